"""URLs of the public host (public schema): landing page, sign-up, accounts, tenant picker, platform admin."""

from django.contrib import admin
from django.urls import include, path

from {{ cookiecutter.project_slug }}.accounts.views import tenant_picker, tenant_switch
from {{ cookiecutter.project_slug }}.platform.views import admin_login, billing_done, landing, signup
from {{ cookiecutter.project_slug }}.platform.webhooks import stripe_webhook

urlpatterns = [
    path("", landing, name="home"),
    path("signup/", signup, name="signup"),
    # After login: the member's tenants, each crossed to with a one-time login token.
    path("accounts/tenants/", tenant_picker, name="tenant_picker"),
    path("accounts/switch/", tenant_switch, name="tenant_switch"),
    # django-allauth: login, logout, password reset, email verification.
    path("accounts/", include("allauth.urls")),
    # Before the admin's own URLs: its login with failed logins limited (platform.views.admin_login).
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
    # Where the billing provider sends an owner back to after checkout or the portal: on to the tenant's Billing page.
    path("billing/done/<slug:slug>/", billing_done, name="billing_done"),
    # Stripe's subscription and invoice events (BILLING_PROVIDER=stripe; docs/billing.md).
    path("billing/stripe/webhook/", stripe_webhook, name="stripe_webhook"),
]
