"""DRF authentication with API keys (accounts.api_keys), and its OpenAPI security scheme.

`ApiKeyAuthentication` is first in REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]: a request with
`Authorization: Bearer <key>` (or `Authorization: Api-Key <key>`) runs as the key's user, whose current
role in the host's tenant then decides what it may do (accounts.permissions). A refused key is a 401 with
the reason; a request without that header falls through to session authentication.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django_tenants.utils import get_public_schema_name
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from .api_keys import ApiKey, ApiKeyRefused, api_key_authenticate
from .domain import Role

if TYPE_CHECKING:  # rest_framework.views reads the API settings, and so imports this module, while it loads
    from rest_framework.request import Request

    from .models import User

SCHEMES = (b"bearer", b"api-key")


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>` or `Authorization: Api-Key <key>` on a tenant's host.

    Returns (the key's user, the ApiKey) and sets `request.membership_role` to the membership's current role.
    Raises AuthenticationFailed (401, `WWW-Authenticate: Bearer realm="api"`) when the key is refused
    (accounts.api_keys.api_key_authenticate says why) or used on a host that is not a tenant's.
    Returns None for no Authorization header or another scheme (e.g. Basic), leaving it to other classes.
    """

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in SCHEMES:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("expected 'Authorization: Bearer <API key>' with the key and nothing else")
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.schema_name == get_public_schema_name():
            raise AuthenticationFailed("API keys work on the host of the workspace they belong to")
        try:
            api_key = api_key_authenticate(key=parts[1].decode("ascii"), tenant=tenant)
        except UnicodeDecodeError:
            raise AuthenticationFailed(
                "the API key is malformed; expected the full key shown when it was created"
            ) from None
        except ApiKeyRefused as exc:
            raise AuthenticationFailed(str(exc)) from None
        request._request.membership_role = Role(api_key.membership.role)  # type: ignore[attr-defined]
        return api_key.membership.user, api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Documents ApiKeyAuthentication in the OpenAPI schema as HTTP bearer authentication."""

    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key of this workspace (Account > API keys): `Authorization: Bearer ak_...`.",
        }
