"""Tenant URLs of the benchmark site: the load check's (marker view and the project's tenant URLs) plus the tables
view."""

from django.urls import path
from loadcheck.loadsite.urls import urlpatterns as check_urlpatterns

from benchmarks.loadsite import views

urlpatterns = [
    path("__tables__/", views.tables, name="bench_tables"),
    *check_urlpatterns,
]
