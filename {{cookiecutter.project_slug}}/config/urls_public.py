"""URLs of the public host (public schema): landing page, login, platform admin."""

from django.contrib import admin
from django.urls import path

from {{ cookiecutter.project_slug }}.accounts.views import LoginView, LogoutView
from {{ cookiecutter.project_slug }}.tenancy.views import landing

urlpatterns = [
    path("", landing, name="home"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
