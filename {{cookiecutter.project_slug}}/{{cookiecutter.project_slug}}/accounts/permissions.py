"""Who may do what on a tenant host: the role rule table and the checks that apply it to views{% if cookiecutter.use_drf == "y" %} and the API{% endif %}.

The second layer of authorization, independent of TenantMembershipMiddleware (the first layer, which makes
non-members anonymous in domain routing and refuses them in path routing: strangers_refused): `role_permits`
reads the user's membership of the host's tenant from the database (accounts.selectors.membership_role), never
from `request.membership_role`, so the pages{% if cookiecutter.use_drf == "y" %} and the API{% endif %} stay closed to non-members
even with that middleware switched off or bypassed. Every wrapper asks `role_permits` only:
`member_required` for function views{% if cookiecutter.use_drf == "y" %}, `TenantRolePermission` for DRF viewsets{% endif %}.

| action | what it covers                                     | member | admin | owner |
|--------|----------------------------------------------------|--------|-------|-------|
| read   | lists, details, dashboard, catalogue, media files  | yes    | yes   | yes   |
| create | new products, customers, bookings                  | yes    | yes   | yes   |
| update | edit products and customers, cancel bookings       | no     | yes   | yes   |
| delete | delete rows                                        | no     | yes   | yes   |
| manage | members, invitations, roles, the tenant admin      | no     | yes   | yes   |
| billing| the Billing page: plan, checkout, cards, invoices  | no     | no (*)| yes   |

(*) yes with settings.BILLING_ADMINS_MANAGE: `role_actions` adds `billing` to the admin's row then.

(Among managers, which role changes an admin may make is accounts.domain.role_change_check's rule.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from functools import wraps
from typing import {% if cookiecutter.use_drf == "y" %}TYPE_CHECKING, {% endif %}Any, TypeVar, cast

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django_tenants.utils import get_public_schema_name
{%- if cookiecutter.use_drf == "y" %}
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
{%- endif %}

from ..errors import InvalidValue
from .domain import Role
from .selectors import membership_role
{%- if cookiecutter.use_drf == "y" %}

if TYPE_CHECKING:  # rest_framework.views reads the API settings on import, too early while the admin loads
    from rest_framework.request import Request
    from rest_framework.views import APIView
{%- endif %}

ViewT = TypeVar("ViewT", bound=Callable[..., HttpResponseBase])


class Action(StrEnum):
    """What a request does to a tenant's data."""

    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    MANAGE = "manage"
    BILLING = "billing"


# The rule table: the actions each role may take in its tenant (see the module docstring).
RULES: Mapping[Role, frozenset[Action]] = {
    Role.MEMBER: frozenset({Action.READ, Action.CREATE}),
    Role.ADMIN: frozenset(Action) - {Action.BILLING},
    Role.OWNER: frozenset(Action),
}


def role_actions(role: Role) -> frozenset[Action]:
    """The actions `role` may take: its RULES row, plus `billing` for admins when settings.BILLING_ADMINS_MANAGE
    is on (owners always manage billing; members never do)."""
    actions = RULES[role]
    if role is Role.ADMIN and getattr(settings, "BILLING_ADMINS_MANAGE", False):
        return actions | {Action.BILLING}
    return actions


class InvalidAction(InvalidValue):
    """An action name that is not in the rule table."""


def parse_action(action: object) -> Action:
    """Return the Action named `action` (`"read"`, `"create"`, `"update"`, `"delete"`, `"manage"` or `"billing"`),
    or raise InvalidAction naming the value and the accepted actions."""
    try:
        return Action(str(action))
    except ValueError:
        accepted = ", ".join(a.value for a in Action)
        raise InvalidAction(f"action {action!r} does not exist; accepted: {accepted}") from None


def role_allowed_actions(role: Role | str | None) -> frozenset[Action]:
    """The actions `role` (a Role or its name) may take (role_actions); empty for None or a name that is not a role.

    For display only (which links a page offers); access is decided by role_permits.
    """
    try:
        return role_actions(Role(role)) if role is not None else frozenset()
    except ValueError:
        return frozenset()


def role_permits(user: Any, tenant: Any, action: Action | str) -> bool:
    """Whether `user` may take `action` in `tenant`: the one authorization decision of tenant hosts.

    `user`: a User or AnonymousUser (request.user); `tenant`: the host's Tenant (request.tenant), or None;
    `action`: an Action or its name. False for anonymous users, for the public tenant or no tenant, for users
    who are not members of `tenant`, and for members whose role lacks `action` (role_actions). The membership is
    read from the database on every call. Raises InvalidAction for an unknown action name.
    """
    wanted = parse_action(action)
    if user is None or not user.is_authenticated or tenant is None:
        return False
    if tenant.schema_name == get_public_schema_name():
        return False
    role = membership_role(user_id=user.pk, tenant_id=tenant.pk)
    return role is not None and wanted in role_actions(role)


def is_member(user: Any, tenant: Any) -> bool:
    """Whether `user` is a member of `tenant` at all (may read there), per role_permits."""
    return role_permits(user, tenant, Action.READ)


def forbidden(request: HttpRequest, action: Action) -> HttpResponse:
    """The 403 page for a member of the host's tenant whose role does not allow `action`."""
    reason = None  # the page's own words: only owners and admins manage members
    if action == Action.BILLING:
        who = "owners and admins" if getattr(settings, "BILLING_ADMINS_MANAGE", False) else "owners"
        reason = f"Only the {who} of this workspace see and change its plan and billing; ask an owner."
    elif action != Action.MANAGE:
        reason = f"Your role does not allow you to {action.value} here; ask an owner or admin of this workspace."
    return render(request, "accounts/forbidden.html", {"reason": reason}, status=403)


# Tenant paths where a logged-in user who is not a member of the tenant counts as anonymous in path routing too:
# logging in (as another user) and out, one-time login tokens, and accepting an invitation (the invitee is not a
# member yet). Matched against request.path_info.
STRANGER_ANONYMOUS_PREFIXES = ("/accounts/login/", "/accounts/logout/", "/accounts/token/", "/invitations/")
# Under this prefix of request.path_info the refusal of a stranger is JSON, like the API's own errors.
STRANGER_API_PREFIX = "/api/"
STRANGER_MESSAGE = (
    "Your account is not a member of this workspace. Open one of your own workspaces, or log out and log in "
    "with an account of this workspace."
)


def strangers_refused(request: Any) -> bool:
    """Whether a logged-in user who is not a member of the request's tenant (a stranger) is refused there (403)
    rather than treated as an anonymous visitor (sent to the login page).

    `request`: an HttpRequest or a DRF Request. True in path routing (settings.TENANCY_ROUTING == "path"), except
    under STRANGER_ANONYMOUS_PREFIXES: one session on the public host serves every tenant's paths, so the stranger
    is who they say they are, and the login page would only offer to replace their session. False in domain
    routing, where each host has its own session: a session seen on another tenant's host is a replayed cookie,
    and its bearer is anonymous there.
    """
    if getattr(settings, "TENANCY_ROUTING", "domain") != "path":
        return False
    return not str(request.path_info).startswith(STRANGER_ANONYMOUS_PREFIXES)


def stranger_refusal(request: HttpRequest) -> HttpResponse:
    """The 403 for a stranger (strangers_refused): under /api/ `{"detail": ..., "code": "not_a_member"}`, else the
    forbidden page naming the reason."""
    if request.path_info.startswith(STRANGER_API_PREFIX):
        return JsonResponse({"detail": STRANGER_MESSAGE, "code": "not_a_member"}, status=403)
    return render(request, "accounts/forbidden.html", {"reason": STRANGER_MESSAGE}, status=403)


def member_required(*, action: Action | str) -> Callable[[ViewT], ViewT]:
    """Decorator for function views of tenant hosts: only members whose role allows `action` get the view.

    `action`: one of RULES' actions, stated by the app for each view (`@member_required(action="update")`);
    an unknown name raises InvalidAction when the view is decorated. Anonymous users are sent to the login page,
    as `login_required` does; so are logged-in users who are not members of the host's tenant in domain routing
    (what they see when TenantMembershipMiddleware has made them anonymous), while in path routing they get
    stranger_refusal's 403 (strangers_refused). Members whose role lacks `action` get 403.
    """
    wanted = parse_action(action)

    def decorator(view: ViewT) -> ViewT:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
            tenant = getattr(request, "tenant", None)
            if role_permits(request.user, tenant, wanted):
                return view(request, *args, **kwargs)
            if is_member(request.user, tenant):
                return forbidden(request, wanted)
            if request.user.is_authenticated and strangers_refused(request):
                return stranger_refusal(request)
            return redirect_to_login(request.get_full_path())

        wrapper.member_action = wanted  # type: ignore[attr-defined]  # read by tests listing the views' rules
        return cast(ViewT, wrapper)

    return decorator
{%- if cookiecutter.use_drf == "y" %}


class TenantRolePermission(BasePermission):
    """DRF permission for tenant viewsets: the request's action must be allowed to the user's role (role_permits).

    Safe methods (GET, HEAD, OPTIONS) read, POST creates, PUT and PATCH update, DELETE deletes. A viewset whose
    endpoint differs names it in `role_actions`, a mapping of DRF action names to actions, e.g.
    `role_actions = {"cancel": "update"}` for a POST that changes a row. Anonymous users, and in domain routing
    users who are not members of the host's tenant, get NotAuthenticated (403 with session authentication, 401
    with an authentication scheme that sends WWW-Authenticate); in path routing (strangers_refused) logged-in
    non-members get PermissionDenied (403, `{"detail": STRANGER_MESSAGE, "code": "not_a_member"}`); members
    whose role lacks the action get 403.
    API keys authenticate as their owner, whose role in the tenant decides.
    """

    message = "Your role in this workspace does not allow this request."
    METHOD_ACTIONS: Mapping[str, Action] = {
        "POST": Action.CREATE,
        "PUT": Action.UPDATE,
        "PATCH": Action.UPDATE,
        "DELETE": Action.DELETE,
    }

    @classmethod
    def action_for(cls, request: Request, view: APIView) -> Action:
        """The rule table action of `request` on `view`: the viewset's `role_actions` entry for its DRF action,
        else the method's (unknown methods count as DELETE, the most guarded)."""
        overrides: Mapping[str, str] = getattr(view, "role_actions", {})
        name = getattr(view, "action", None)
        if isinstance(name, str) and name in overrides:
            return parse_action(overrides[name])
        if request.method in SAFE_METHODS:
            return Action.READ
        return cls.METHOD_ACTIONS.get(request.method or "", Action.DELETE)

    def has_permission(self, request: Request, view: APIView) -> bool:
        action = self.action_for(request, view)
        tenant = getattr(request, "tenant", None)
        if role_permits(request.user, tenant, action):
            return True
        if not is_member(request.user, tenant):
            if request.user.is_authenticated and strangers_refused(request):
                # The body stranger_refusal gives: {"detail": ..., "code": "not_a_member"}.
                raise PermissionDenied({"detail": STRANGER_MESSAGE, "code": "not_a_member"})
            raise NotAuthenticated()
        return False
{%- endif %}
