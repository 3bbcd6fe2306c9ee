"""URLs of tenant hosts (the tenant's schema): dashboard, accounts, members, billing, apps, media, admin{% if cookiecutter.use_drf == "y" %}, REST API{% endif %}."""

from django.urls import include, path, re_path

{% if cookiecutter.use_drf == "y" %}from {{ cookiecutter.project_slug }} import api
from {{ cookiecutter.project_slug }}.accounts import api_key_views
{% endif %}from {{ cookiecutter.project_slug }}.accounts import views as accounts_views
from {{ cookiecutter.project_slug }}.accounts.admin_site import tenant_admin_site
from {{ cookiecutter.project_slug }}.accounts.permissions import member_required
from {{ cookiecutter.project_slug }}.billing_views import billing, billing_checkout, billing_portal
from {{ cookiecutter.project_slug }}.dashboard import dashboard
from {{ cookiecutter.project_slug }}.tenancy.media import tenant_media

urlpatterns = [
    path("", dashboard, name="home"),
    # One-time login from another host (sign-up, tenant picker, switcher): accounts.login_tokens.login_token_consume.
    path("accounts/token/<str:token>/", accounts_views.login_token_login, name="login_token"),
    path("accounts/switch/", accounts_views.tenant_switch, name="tenant_switch"),
    # django-allauth: login (members of this tenant only; others count as anonymous there), logout, password reset,
    # email verification.
    path("accounts/login/", accounts_views.tenant_login, name="account_login"),
    # Password reset and email management live on the public host: tenant hosts redirect there (a POSTed reset
    # request is still handled, its mailed link leading to the public host: accounts.adapter).
    path("accounts/password/reset/", accounts_views.password_reset_on_tenant_host),
    re_path(r"^accounts/(?:password/reset/.+|email/.*)$", accounts_views.to_public_host),
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
    # The plan, usage, checkout and the provider's portal (billing_views), for owners; served also while the
    # subscription makes the tenant read-only or suspended (tenancy.middleware.BILLING_PATH).
    path("billing/", billing, name="billing"),
    path("billing/checkout/", billing_checkout, name="billing_checkout"),
    path("billing/portal/", billing_portal, name="billing_portal"),
    path("products/", include("{{ cookiecutter.project_slug }}.products.urls")),
    path("customers/", include("{{ cookiecutter.project_slug }}.customers.urls")),
    path("bookings/", include("{{ cookiecutter.project_slug }}.bookings.urls")),
    path("admin/", tenant_admin_site.urls),
    # Uploaded files of this tenant only, for its members (tenancy/media.py; tenancy may not import accounts).
    path("media/<path:path>", member_required(action="read")(tenant_media), name="tenant_media"),
{%- if cookiecutter.use_drf == "y" %}
    path("api/", include("{{ cookiecutter.project_slug }}.api")),
    # Members of this tenant only, unless API_DOCS_PUBLIC (api.py).
    path("api/schema/", api.api_schema, name="api-schema"),
    path("api/docs/", api.api_docs, name="api-docs"),
    # A member's API keys for scripts (accounts/api_keys.py).
    path("accounts/api-keys/", api_key_views.api_keys, name="api_keys"),
    path("accounts/api-keys/<int:key_id>/revoke/", api_key_views.api_key_revoke_view, name="api_key_revoke"),
{%- endif %}
]

# django-allauth's rate-limit refusals (it looks `handler429` up in settings.ROOT_URLCONF, on every host): 429 with
# Retry-After and the project's page.
handler429 = "{{ cookiecutter.project_slug }}.accounts.ratelimits.allauth_handler429"
