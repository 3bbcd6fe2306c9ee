"""Pages of the public host: the landing page, sign-up, the platform admin's login, and the return from the billing
provider."""

from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_safe
from django_tenants.utils import get_public_schema_name

from ..accounts.domain import InvalidEmail
from ..accounts.ratelimits import ADMIN_LOGIN_FAILURES, SIGNUP, failures_limited, ip_and_posted, too_many_requests
from ..accounts.services import EmailRegistered, WeakPassword, email_verification_send
from ..billing.domain import UnknownPlan
from ..errors import DomainError
from ..tenancy.addressing import TenantUnaddressable, path_prefix, routing_mode, tenant_reverse_url
from ..tenancy.domain import DomainTaken, InvalidDomain, InvalidSlug, TenantExists
from ..tenancy.selectors import tenant_get_by_slug
from .forms import SignupForm
from .services import user_signup


def landing(request: HttpRequest) -> HttpResponse:
    """Public landing page on the public host."""
    return render(request, "public/landing.html")


# Which sign-up field a service error belongs to, when the form's checks passed but the service refused
# (another sign-up took the slug or the email in between). Anything else concerns the company name.
_ERROR_FIELDS: list[tuple[type[DomainError], str]] = [
    (EmailRegistered, "email"),
    (InvalidEmail, "email"),
    (WeakPassword, "password"),
    (InvalidSlug, "slug"),
    (TenantExists, "slug"),
    (DomainTaken, "slug"),
    (InvalidDomain, "slug"),
    (UnknownPlan, "plan"),
]


@csrf_protect
@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """GET: the sign-up form. POST: create the user, their tenant (on the chosen `plan`, an offered plan's code;
    default: the default plan) and owner membership in one transaction (platform.services.user_signup), email a
    link verifying the address, then redirect (302) to the
    tenant with a one-time login token (tenancy.addressing, scheme and port of the request):
    `<scheme>://<slug>.<base domain>[:<port>]/accounts/token/<token>/` in domain mode,
    `<scheme>://<public host>[:<port>]/<prefix>/<slug>/accounts/token/<token>/` in path mode (same session there).
    Invalid or taken values answer 200 with the form and the error next to its field; nothing is created then.
    A valid sign-up over settings.RATE_LIMIT_SIGNUP from the same client IP answers 429 with Retry-After, and
    creates nothing (accounts.ratelimits.SIGNUP; forms with errors are not counted).
    """
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        wait = SIGNUP.hit(request)
        if wait is not None:
            return too_many_requests(request, retry_after=wait, message="Too many sign-ups from your address.")
        data = form.cleaned_data
        try:
            result = user_signup(
                company_name=data["company_name"], slug=data["slug"], email=data["email"], password=data["password"],
                plan=data["plan"],
            )  # fmt: skip
        except DomainError as exc:
            field = next((name for kind, name in _ERROR_FIELDS if isinstance(exc, kind)), "company_name")
            form.email_registered = isinstance(exc, EmailRegistered)
            form.add_error(field, str(exc))
        else:
            email_verification_send(request=request, user=result.user)
            url = tenant_reverse_url(result.tenant, "login_token", kwargs={"token": result.token}, request=request)
            response = HttpResponseRedirect(url)
            response["Cache-Control"] = "no-store"  # the Location carries a login token
            return response
    # The address shown around the slug field: `<slug>.<base domain>`, or `/<prefix>/<slug>` in path mode.
    slug_prefix = f"/{path_prefix()}/" if routing_mode() == "path" else ""
    context = {"form": form, "base_domain": settings.TENANCY_BASE_DOMAIN, "slug_prefix": slug_prefix}
    return render(request, "public/signup.html", context)


@failures_limited(
    ADMIN_LOGIN_FAILURES,
    key=ip_and_posted("username"),
    failed=lambda request, response: request.method == "POST" and response.status_code == 200,
    message="Too many failed logins to the platform admin for this account.",
)
def admin_login(request: HttpRequest) -> HttpResponse:
    """`/admin/login/` on the public host: Django admin's login (admin.site.login), with failed logins limited
    per client IP and account (settings.RATE_LIMIT_ADMIN_LOGIN_FAILURES). Once reached, every login of that
    account from that IP answers 429 with Retry-After, the right password included, until the window ends.
    A failed login is a POST answered with the form again (200); a success redirects (302)."""
    return admin.site.login(request)


# `result` values the provider's return URLs carry (billing_views._back_url); anything else counts as "return".
BILLING_RESULTS = ("success", "cancel", "return")


@require_safe
def billing_done(request: HttpRequest, slug: str) -> HttpResponse:
    """`/billing/done/<slug>/?result=success|cancel|return` on the public host: where the billing provider sends an
    owner back to after checkout (success, cancel) or the portal (return). Redirects (302) to the tenant's Billing
    page, `/billing/?checkout=<result>` on its primary domain (path mode: `/<prefix>/<slug>/billing/...` on this
    host), which shows what happened. Changes nothing (the subscription follows the provider's webhooks); 404 for
    an unknown slug, the public tenant, or (domain mode) a tenant without a domain."""
    tenant = tenant_get_by_slug(slug=slug)
    if tenant is None or tenant.schema_name == get_public_schema_name():
        raise Http404("no such workspace")
    result = request.GET.get("result")
    result = result if result in BILLING_RESULTS else "return"
    try:
        url = tenant_reverse_url(tenant, "billing", query=f"checkout={result}", request=request)
    except TenantUnaddressable as exc:
        raise Http404(str(exc)) from exc
    return HttpResponseRedirect(url)
