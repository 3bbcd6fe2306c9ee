from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .forms import TenantAuthenticationForm
from .services import LoginTokenRefused, login_token_consume


class LoginView(auth_views.LoginView):
    """Email login on any host; on a tenant host, members of that tenant only."""

    authentication_form = TenantAuthenticationForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


@require_GET
@never_cache
def login_token_login(request: HttpRequest, token: str) -> HttpResponse:
    """`/accounts/token/<token>/` on a tenant host: log in with a one-time token (accounts.services).

    Accepted: log the token's user in on this host (host-only session cookie) and redirect to `next`
    when it is a URL on this same host, else to `/`. Refused (unknown, used, expired, another tenant's):
    403 with the reason and a link to this tenant's login page; nobody is logged in. The token is in
    the URL, so responses are `Cache-Control: no-store` and `Referrer-Policy: no-referrer`.
    """
    tenant = request.tenant  # type: ignore[attr-defined]  # set by TenantRoutingMiddleware
    response: HttpResponse
    try:
        user = login_token_consume(token=token, tenant=tenant)
    except LoginTokenRefused as exc:
        response = render(request, "accounts/login_token_refused.html", {"reason": str(exc)}, status=403)
    else:
        auth_login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
        target = request.GET.get("next", "")
        safe = url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        response = HttpResponseRedirect(target if target and safe else "/")
    response["Referrer-Policy"] = "no-referrer"
    return response
