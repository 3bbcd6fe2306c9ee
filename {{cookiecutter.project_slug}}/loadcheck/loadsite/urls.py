"""Tenant URLs of the load check site: the project's (config.urls_tenants) plus the marker view."""

from django.urls import path

from config.urls_tenants import urlpatterns as tenant_urlpatterns
from loadcheck.loadsite import views

urlpatterns = [
    path("__marker__/", views.marker, name="loadcheck_marker"),
    *tenant_urlpatterns,
]
