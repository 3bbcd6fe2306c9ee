"""URLs of the public host (public schema): landing page, sign-up, login, platform admin."""

from django.contrib import admin
from django.urls import path

from {{ cookiecutter.project_slug }}.accounts.views import LoginView, LogoutView
from {{ cookiecutter.project_slug }}.tenancy.views import landing, signup

urlpatterns = [
    path("", landing, name="home"),
    path("signup/", signup, name="signup"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
