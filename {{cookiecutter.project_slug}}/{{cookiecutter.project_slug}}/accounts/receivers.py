"""Login families: one browser's sessions on the public host and the tenant hosts it crossed to end together.

Connected by AccountsConfig.ready. A login on any host starts a family unless the session already has one
(a login token carries its issuer's family: accounts.views.login_token_login); a logout on any host deletes
every session of the family (accounts.login_tokens.login_family_end).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from .login_tokens import login_family_end, login_family_new
from .sessions import FAMILY_KEY


@receiver(user_logged_in, dispatch_uid="accounts.login_family_start")
def login_family_start(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session") and not request.session.get(FAMILY_KEY):
        request.session[FAMILY_KEY] = login_family_new()


@receiver(user_logged_out, dispatch_uid="accounts.login_family_logout")
def login_family_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        login_family_end(family=request.session.get(FAMILY_KEY, ""))
