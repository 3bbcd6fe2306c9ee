"""Account pages that tenancy adds to django-allauth's: crossing between hosts with one-time login tokens
(tenant picker, tenant switcher), the members page and invitations."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from allauth.account.adapter import get_adapter
from allauth.account.views import login as allauth_login
from allauth.account.views import password_reset as allauth_password_reset
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..errors import DomainError
from ..tenancy.addressing import tenant_reverse_url
from .adapter import on_public_host
from .crossing import public_url, tenant_crossing_url
from .domain import MANAGING_ROLES, Role
from .forms import InvitationAcceptForm, InvitationForm
from .invitations import (
    InvitationRefused,
    InvitationUnknown,
    WrongPassword,
    invitation_accept,
    invitation_create,
    invitation_get,
    invitation_send,
    invitation_withdraw,
)
from .login_tokens import LoginTokenRefused, login_token_consume
from .models import User
from .permissions import Action, forbidden, is_member, member_required
from .ratelimits import (
    INVITATION,
    INVITATION_PASSWORD_FAILURES,
    INVITATION_SEND,
    LOGIN_TOKEN_FAILURES,
    LOGIN_TOKEN_ISSUE,
    failures_limited,
    rate_limited,
    too_many_requests,
    value_key,
)
from .selectors import invitations_pending, members_list, user_tenants
from .services import membership_remove, membership_role_change
from .sessions import FAMILY_KEY, family_merge

View = Callable[..., HttpResponse]


def _no_referrer(response: HttpResponse, policy: str = "no-referrer") -> HttpResponse:
    # The URL carries a token: keep it out of Referer headers and caches. Pages with a form use
    # "same-origin": with "no-referrer" browsers send `Origin: null`, which fails Django's CSRF check.
    response["Referrer-Policy"] = policy
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@never_cache
@failures_limited(
    LOGIN_TOKEN_FAILURES,
    methods=("GET",),
    failed=lambda request, response: response.status_code == 403,
    message="Too many sign-in links from your address were refused.",
)
def login_token_login(request: HttpRequest, token: str) -> HttpResponse:
    """`/accounts/token/<token>/` on a tenant host: log in with a one-time token (accounts.services).

    Accepted: log the token's user in on this host (host-only session cookie, in the login family of the
    session that issued the token) and redirect to `next` when it is a URL on this same host, else to the tenant's
    dashboard (`/`; `/<prefix>/<slug>/` in path mode, where sign-up still crosses with a token).
    Refused (unknown, used, expired, another tenant's): 403 with the reason and a link to this tenant's
    login page; nobody is logged in. Responses carry `Cache-Control: no-store`, `Referrer-Policy: no-referrer`.
    After settings.RATE_LIMIT_LOGIN_TOKEN_FAILURES refusals from one client IP, every token answers 429 with
    Retry-After until the window ends.
    """
    tenant = request.tenant  # type: ignore[attr-defined]  # set by TenantRoutingMiddleware
    response: HttpResponse
    try:
        accepted = login_token_consume(token=token, tenant=tenant)
    except LoginTokenRefused as exc:
        response = render(request, "accounts/login_token_refused.html", {"reason": str(exc)}, status=403)
    else:
        # The browser may be logged in here already as the same user, in another login family (it logged in
        # on this host directly, then crossed elsewhere): merged below, so one logout still ends every host.
        previous = request.session.get(FAMILY_KEY, "") if request.user.pk == accepted.user.pk else ""
        auth_login(request, accepted.user, backend=settings.AUTHENTICATION_BACKENDS[0])
        if accepted.family:
            request.session[FAMILY_KEY] = accepted.family
            family_merge(old=previous, new=accepted.family)
        target = request.GET.get("next", "")
        # The same check as allauth's login `next` (AccountAdapter.is_safe_url): this host only.
        safe = get_adapter(request).is_safe_url(target)
        response = HttpResponseRedirect(target if target and safe else reverse("home"))
    return _no_referrer(response)


def tenant_login(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    """`/accounts/login/` on a tenant host: django-allauth's login page, where a logged-in user who is not a member
    of the host's tenant (accounts.permissions.is_member) counts as anonymous and gets the form.

    Without this, allauth would send such a user back to `next` as already logged in, and member_required back to
    the login page: a redirect loop whenever TenantMembershipMiddleware did not make them anonymous first.
    """
    if request.user.is_authenticated and not is_member(request.user, getattr(request, "tenant", None)):
        request.user = AnonymousUser()
    return allauth_login(request, *args, **kwargs)


@login_required
@require_GET
def tenant_picker(request: HttpRequest) -> HttpResponse:
    """`/accounts/tenants/` on the public host: the logged-in user's active tenants, each opened with a
    button that crosses to its host (tenant_switch) in domain mode, with a link to `/<prefix>/<slug>/` in path
    mode."""
    if not on_public_host(request):
        raise Http404("the tenant picker is on the public host")
    choices = user_tenants(user=request.user)  # type: ignore[arg-type]
    return render(request, "accounts/tenant_picker.html", {"choices": choices})


@login_required
@require_POST
@rate_limited(LOGIN_TOKEN_ISSUE, key="user", message="Too many workspace switches.")
def tenant_switch(request: HttpRequest) -> HttpResponse:
    """POST `/accounts/switch/` with `tenant=<slug>`, on any host: cross to that tenant, logged in
    (crossing.tenant_crossing_url: a one-time login token in domain mode; in path mode a redirect to
    `/<prefix>/<slug>/`, the session being the same). Only the user's active tenants are accepted; another slug
    answers 404 and issues nothing."""
    slug = request.POST.get("tenant", "")
    choice = next((c for c in user_tenants(user=request.user) if c.tenant.slug == slug), None)  # type: ignore[arg-type]
    if choice is None:
        raise Http404(f"you are not a member of an active workspace {slug!r}")
    return _no_referrer(HttpResponseRedirect(tenant_crossing_url(request, choice)))


def managers_only(view: View) -> View:
    """Tenant host pages for the tenant's owners and admins (the `manage` action of accounts.permissions): other
    members get 403, anonymous users and non-members the login page; 404 on the public host.

    Both layers must agree: the role read from the database (member_required) and, when
    TenantMembershipMiddleware ran, the role it put on the request.
    """

    @wraps(view)
    def first_layer_agrees(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if hasattr(request, "membership_role") and request.membership_role not in MANAGING_ROLES:  # type: ignore[attr-defined]
            return forbidden(request, Action.MANAGE)
        return view(request, *args, **kwargs)

    guarded = member_required(action=Action.MANAGE)(first_layer_agrees)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if on_public_host(request):
            raise Http404("team pages are on tenant hosts")
        return guarded(request, *args, **kwargs)

    wrapper.member_action = Action.MANAGE  # type: ignore[attr-defined]
    return wrapper


@managers_only
@require_http_methods(["GET", "HEAD", "POST"])
@rate_limited(INVITATION_SEND, key="user", message="Too many invitations sent; none was sent this time.")
def members(request: HttpRequest) -> HttpResponse:
    """`/members/` on a tenant host: members with their roles, pending invitations, and (POST) a new
    invitation by email and role, sent as a single-use link (accounts.invitations.invitation_create). A refused
    invitation (malformed or duplicate email, unknown role, not allowed) shows the reason next to the form
    with status 400, and nothing is created or sent."""
    tenant = request.tenant  # type: ignore[attr-defined]
    form = InvitationForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                invitation, token = invitation_create(
                    tenant=tenant,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    invited_by=request.user,  # type: ignore[arg-type]
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                url = tenant_reverse_url(tenant, "invitation_accept", kwargs={"token": token}, request=request)
                invitation_send(invitation=invitation, accept_url=url)
                messages.success(request, f"Invitation sent to {invitation.email} as {invitation.role}.")
                return redirect("members")
        status = 400
    context = {
        "form": form,
        "memberships": members_list(tenant=tenant),
        "invitations": invitations_pending(tenant=tenant),
        "roles": [role.value for role in Role],
        "now": timezone.now(),
    }
    return render(request, "accounts/members.html", context, status=status)


def _member(request: HttpRequest, user_id: int) -> User:
    user = User.objects.filter(pk=user_id, memberships__tenant=request.tenant).first()  # type: ignore[attr-defined]
    if user is None:
        raise Http404("no such member in this workspace")
    return user


@managers_only
@require_POST
def member_role(request: HttpRequest, user_id: int) -> HttpResponse:
    """POST `/members/<user_id>/role/` with `role`: change a member's role (accounts.services.membership_role_change);
    a refusal (unknown role, not allowed, last owner) is shown as an error message and changes nothing."""
    user = _member(request, user_id)
    role = request.POST.get("role", "")
    try:
        membership_role_change(tenant=request.tenant, actor=request.user, user=user, role=role)  # type: ignore[attr-defined,arg-type]
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{user.email} is now {role}.")
    return redirect("members")


@managers_only
@require_POST
def member_remove_view(request: HttpRequest, user_id: int) -> HttpResponse:
    """POST `/members/<user_id>/remove/`: remove a member from this tenant (accounts.services.membership_remove);
    the account and its other memberships stay. Refusals (not allowed, last owner) are error messages."""
    user = _member(request, user_id)
    try:
        membership_remove(tenant=request.tenant, actor=request.user, user=user)  # type: ignore[attr-defined,arg-type]
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{user.email} was removed from {request.tenant.name}.")  # type: ignore[attr-defined]
    return redirect("members")


@managers_only
@require_POST
def invitation_withdraw_view(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """POST `/members/invitations/<id>/withdraw/`: delete a pending invitation; its link stops working."""
    try:
        invitation_withdraw(tenant=request.tenant, invitation_id=invitation_id, actor=request.user)  # type: ignore[attr-defined,arg-type]
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Invitation withdrawn.")
    return redirect("members")


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@rate_limited(INVITATION, methods=("GET", "HEAD", "POST"), message="Too many invitation requests from your address.")
def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    """`/invitations/<token>/` on the invitation's tenant host.

    GET: who is invited, as what, and a form: name and password for a new account, or the password of the
    existing account with that email. POST: accept (accounts.invitations.invitation_accept), log in on this host and
    redirect to the tenant's dashboard. A refused link (unknown or withdrawn, used, expired, another tenant's)
    answers 410 with the reason (404 for unknown); a wrong or weak password re-shows the form with the reason
    (400). Nothing changes on any refusal. Rate limits (429 with Retry-After): settings.RATE_LIMIT_INVITATION
    requests per client IP, and settings.RATE_LIMIT_INVITATION_PASSWORD_FAILURES wrong passwords per invited
    account.
    """
    tenant = request.tenant  # type: ignore[attr-defined]
    try:
        invitation = invitation_get(token=token, tenant=tenant)
    except InvitationRefused as exc:
        status = 404 if isinstance(exc, InvitationUnknown) else 410
        return _no_referrer(render(request, "accounts/invitation_refused.html", {"reason": str(exc)}, status=status))
    existing = User.objects.filter(email__iexact=invitation.email).exists()
    form = InvitationAcceptForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        # Wrong passwords of the invited account are limited per account (ratelimits.INVITATION_PASSWORD_FAILURES).
        account = value_key(invitation.email)
        wait = INVITATION_PASSWORD_FAILURES.reached(request, key=account)
        if wait is not None:
            message = f"Too many wrong passwords for {invitation.email}."
            return _no_referrer(too_many_requests(request, retry_after=wait, message=message))
        if form.is_valid():
            try:
                user = invitation_accept(
                    token=token, tenant=tenant, password=form.cleaned_data["password"], name=form.cleaned_data["name"]
                )
            except InvitationRefused as exc:
                return _no_referrer(
                    render(request, "accounts/invitation_refused.html", {"reason": str(exc)}, status=410)
                )
            except WrongPassword as exc:
                INVITATION_PASSWORD_FAILURES.failed(request, key=account)
                form.add_error("password", str(exc))
            except DomainError as exc:
                messages_ = getattr(exc, "messages", None)
                for message in messages_ or [str(exc)]:
                    form.add_error("password" if messages_ else None, message)
            else:
                auth_login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
                messages.success(request, f"Welcome to {tenant.name}.")
                return _no_referrer(HttpResponseRedirect(reverse("home")))
        status = 400
    context = {"invitation": invitation, "existing": existing, "form": form}
    return _no_referrer(render(request, "accounts/invitation_accept.html", context, status=status), "same-origin")


@never_cache
def to_public_host(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    """Tenant hosts' password reset pages (`/accounts/password/reset/...`) and email management
    (`/accounts/email/`): a redirect (302) to the same path and query on the public host (crossing.public_url),
    where these account pages live."""
    # path_info: the path without the tenant's base path in path mode (`/<prefix>/<slug>`), "" in domain mode.
    return HttpResponseRedirect(public_url(request.get_full_path_info()))


def password_reset_on_tenant_host(request: HttpRequest) -> HttpResponse:
    """`/accounts/password/reset/` on a tenant host: GET and HEAD redirect to the public host's form
    (to_public_host); a POSTed reset request is still handled by django-allauth (with its rate limits), and
    the link it mails leads to the public host (AccountAdapter.get_reset_password_from_key_url)."""
    if request.method == "POST":
        return allauth_password_reset(request)
    return to_public_host(request)
