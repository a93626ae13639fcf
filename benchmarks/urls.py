from django.urls import path

from benchmarks import views

app_name = "benchmarks"
urlpatterns = [
    path("benchmarks/submit/", views.submit_view, name="submit"),
    path("benchmarks/submitted/", views.submitted, name="submitted"),
]
