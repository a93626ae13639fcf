from django.urls import path

from cloudprices import views

app_name = "cloudprices"
urlpatterns = [
    path("gpus/prices/", views.prices, name="prices"),
]
