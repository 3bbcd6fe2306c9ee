"""Tenant URLs of the benchmark site: the project's (config.urls_tenants) plus the two benchmark views."""

from django.urls import path

from benchmarks.loadsite import views
from config.urls_tenants import urlpatterns as tenant_urlpatterns

urlpatterns = [
    path("__marker__/", views.marker, name="bench_marker"),
    path("__tables__/", views.tables, name="bench_tables"),
    *tenant_urlpatterns,
]
