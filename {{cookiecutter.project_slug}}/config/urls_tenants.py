"""URLs of tenant hosts (the tenant's schema): dashboard, apps, tenant admin{% if cookiecutter.use_drf == "y" %}, REST API{% endif %}."""

from django.urls import include, path
{%- if cookiecutter.use_drf == "y" %}
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
{%- endif %}

from {{ cookiecutter.project_slug }}.accounts.views import LoginView, LogoutView, login_token_login
from {{ cookiecutter.project_slug }}.dashboard import dashboard
from {{ cookiecutter.project_slug }}.tenancy.admin_site import tenant_admin_site

urlpatterns = [
    path("", dashboard, name="home"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    # One-time login from the public host (sign-up): accounts.services.login_token_consume.
    path("accounts/token/<str:token>/", login_token_login, name="login_token"),
    path("products/", include("{{ cookiecutter.project_slug }}.products.urls")),
    path("customers/", include("{{ cookiecutter.project_slug }}.customers.urls")),
    path("bookings/", include("{{ cookiecutter.project_slug }}.bookings.urls")),
    path("admin/", tenant_admin_site.urls),
{%- if cookiecutter.use_drf == "y" %}
    path("api/", include("{{ cookiecutter.project_slug }}.api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
{%- endif %}
]
