"""The API keys page on tenant hosts: a member creates keys for scripts (shown once), sees when each was last
used, and revokes them (accounts.api_keys)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from ..errors import DomainError
from .adapter import on_public_host
from .api_keys import NAME_MAX, ApiKeyNotFound, api_key_create, api_key_revoke, api_keys_list
from .permissions import member_required


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX, help_text="What the key is for, e.g. 'nightly export'.")


def _tenant_member(request: HttpRequest) -> None:
    if on_public_host(request):
        raise Http404("API keys are on workspace hosts")


@member_required(action="read")  # any member manages their own keys
@require_http_methods(["GET", "HEAD", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    """`/accounts/api-keys/` on a tenant host, for any member: the member's own keys in this tenant (name, prefix,
    created, last used, revoked) and (POST `name`) a new key. The new key is in that one response only
    (`Cache-Control: no-store`); a refused name re-shows the form with the reason (400) and creates nothing."""
    _tenant_member(request)
    tenant = request.tenant  # type: ignore[attr-defined]
    form = ApiKeyForm(request.POST if request.method == "POST" else None)
    status, secret, created = 200, None, None
    if request.method == "POST":
        if form.is_valid():
            try:
                created, secret = api_key_create(user=request.user, tenant=tenant, name=form.cleaned_data["name"])  # type: ignore[arg-type]
            except DomainError as exc:
                form.add_error("name", str(exc))
        if secret is None:
            status = 400
        else:
            form = ApiKeyForm()
    context = {
        "form": form,
        "keys": api_keys_list(user=request.user, tenant=tenant),  # type: ignore[arg-type]
        "secret": secret,
        "created": created,
    }
    response = render(request, "accounts/api_keys.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@member_required(action="read")
@require_POST
def api_key_revoke_view(request: HttpRequest, key_id: int) -> HttpResponse:
    """POST `/accounts/api-keys/<key_id>/revoke/`: revoke one of the member's keys here; 404 for another's key."""
    _tenant_member(request)
    try:
        api_key = api_key_revoke(user=request.user, tenant=request.tenant, key_id=key_id)  # type: ignore[attr-defined,arg-type]
    except ApiKeyNotFound as exc:
        raise Http404(str(exc)) from None
    messages.success(request, f"API key {api_key.name!r} revoked: it no longer works.")
    return redirect("api_keys")
