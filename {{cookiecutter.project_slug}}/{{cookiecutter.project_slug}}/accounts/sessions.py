"""Session engine storing each session's user and login family in columns (model BrowserSession).

Set as settings.SESSION_ENGINE. Behaves like Django's database engine; the two extra columns let
logout delete every session of one browser's login across hosts (accounts.login_tokens.login_family_end)
and let user deletion delete a user's sessions.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DBStore

from .models import BrowserSession

# Session key holding the login family (32 hex characters), shared by the sessions one login created.
FAMILY_KEY = "_login_family"


class SessionStore(DBStore):
    @classmethod
    def get_model_class(cls):  # type: ignore[no-untyped-def]
        return BrowserSession

    def create_model_instance(self, data: dict[str, Any]) -> BrowserSession:
        instance = cast("BrowserSession", super().create_model_instance(data))
        user_id = data.get(SESSION_KEY)
        instance.user_id = int(user_id) if user_id is not None and str(user_id).isdigit() else None
        instance.family = str(data.get(FAMILY_KEY, ""))[:32]
        return instance


def family_merge(*, old: str, new: str) -> int:
    """Move every session of login family `old` into family `new` (column and session data); return how many.

    A login token landing on a host where the browser is already logged in as the same user, in another
    family, links the two logins: from then on logging out on any host ends the sessions of both
    (accounts.views.login_token_login).
    """
    if not old or not new or old == new:
        return 0
    moved = 0
    keys = list(SessionStore.get_model_class().objects.filter(family=old).values_list("session_key", flat=True))
    for key in keys:
        store = SessionStore(session_key=key)
        if store.get(FAMILY_KEY) != old:  # expired, or changed meanwhile
            continue
        store[FAMILY_KEY] = new
        store.save()
        moved += 1
    return moved
