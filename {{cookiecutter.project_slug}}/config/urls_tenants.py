"""URLs of tenant hosts (the tenant's schema): dashboard, accounts, members, apps, media, tenant admin{% if cookiecutter.use_drf == "y" %}, REST API{% endif %}."""

from django.urls import include, path
{%- if cookiecutter.use_drf == "y" %}
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
{%- endif %}

from {{ cookiecutter.project_slug }}.accounts import views as accounts_views
from {{ cookiecutter.project_slug }}.accounts.admin_site import tenant_admin_site
from {{ cookiecutter.project_slug }}.dashboard import dashboard
from {{ cookiecutter.project_slug }}.tenancy.media import tenant_media

urlpatterns = [
    path("", dashboard, name="home"),
    # One-time login from another host (sign-up, tenant picker, switcher): accounts.login_tokens.login_token_consume.
    path("accounts/token/<str:token>/", accounts_views.login_token_login, name="login_token"),
    path("accounts/switch/", accounts_views.tenant_switch, name="tenant_switch"),
    # django-allauth: login (members of this tenant only), logout, password reset, email verification.
    path("accounts/", include("allauth.urls")),
    path("members/", accounts_views.members, name="members"),
    path("members/<int:user_id>/role/", accounts_views.member_role, name="member_role"),
    path("members/<int:user_id>/remove/", accounts_views.member_remove_view, name="member_remove"),
    path(
        "members/invitations/<int:invitation_id>/withdraw/",
        accounts_views.invitation_withdraw_view,
        name="invitation_withdraw",
    ),
    path("invitations/<str:token>/", accounts_views.invitation_accept_view, name="invitation_accept"),
    path("products/", include("{{ cookiecutter.project_slug }}.products.urls")),
    path("customers/", include("{{ cookiecutter.project_slug }}.customers.urls")),
    path("bookings/", include("{{ cookiecutter.project_slug }}.bookings.urls")),
    path("admin/", tenant_admin_site.urls),
    # Uploaded files of this tenant only, for its members (tenancy/media.py).
    path("media/<path:path>", tenant_media, name="tenant_media"),
{%- if cookiecutter.use_drf == "y" %}
    path("api/", include("{{ cookiecutter.project_slug }}.api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
{%- endif %}
]
