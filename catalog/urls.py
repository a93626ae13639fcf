from django.urls import path

from catalog import views
from catalog.model_page import views as model_views

app_name = "catalog"
urlpatterns = [
    path("", views.index, name="index"),
    path("models/<slug:slug>/", model_views.model_detail, name="model_detail"),
    path("providers/<slug:slug>/", views.provider_detail, name="provider_detail"),
    path("families/<slug:slug>/", views.family_detail, name="family_detail"),
    path("hardware/", views.hardware_list, name="hardware_list"),
    path("hardware/pick/", views.hardware_pick, name="hardware_pick"),
    path("hardware/<slug:slug>/", views.hardware_detail, name="hardware_detail"),
    path("methodology/", views.methodology, name="methodology"),
    path("compare/", views.compare_models, name="compare"),
    path("estimate/", views.estimate_start, name="estimate"),
    path("estimate/<slug:key>/", model_views.estimate_detail, name="estimate_detail"),
]
