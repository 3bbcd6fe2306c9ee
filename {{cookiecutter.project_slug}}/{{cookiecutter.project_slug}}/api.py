"""The tenant REST API (served on tenant hosts under /api/; the host selects the tenant's schema).

`exception_handler` is REST_FRAMEWORK["EXCEPTION_HANDLER"]: domain errors become
400 (InvalidValue), 404 (NotFound) or 409 (Conflict) with {"detail": message}, plus
{"<field>": [message]} when the error concerns one input field; input that fails the
serializers is a 400 whose field errors name the value received.

`api_docs` and `api_schema` serve Swagger UI (its assets from drf-spectacular-sidecar's static files, no CDN)
and the OpenAPI schema on tenant hosts, to members of the tenant unless settings.API_DOCS_PUBLIC
(api_support.ApiDocsPermission). Limits on input (pagination, query parameters, JSON depth): api_support.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import get_script_prefix
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import status
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import exception_handler as drf_exception_handler

from .bookings.api import BookingViewSet
from .customers.api import CustomerViewSet
from .errors import Conflict, DomainError, Forbidden, InvalidValue, NotFound, shown
from .products.api import ProductViewSet

router = DefaultRouter()
router.register("products", ProductViewSet, basename="product")
router.register("customers", CustomerViewSet, basename="customer")
router.register("bookings", BookingViewSet, basename="booking")

urlpatterns = router.urls


class TenantSchemaView(SpectacularAPIView):
    """drf-spectacular's schema view, naming the tenant's base path as the schema's server in path mode.

    The schema's paths come from the URLconf (`/api/products/`); in path mode the tenant's pages live under
    the script prefix the routing middleware set (`/<prefix>/<slug>`), so the schema says
    `"servers": [{"url": "/<prefix>/<slug>"}]` and clients (Swagger UI's "Try it out" included) call
    `/<prefix>/<slug>/api/...`. On a host that selects the tenant (domain mode, a custom domain) the prefix is
    "/" and the schema names no server, as before.
    """

    # The override drops the parent's `@extend_schema(exclude=True)`: without it the schema view would describe
    # itself (and `check --deploy` warns drf_spectacular.W002, "unable to guess serializer").
    @extend_schema(exclude=True)
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        response: Response = super().get(request, *args, **kwargs)
        base_path = get_script_prefix().rstrip("/")
        if base_path and response.status_code == status.HTTP_200_OK and isinstance(response.data, dict):
            response.data = {**response.data, "servers": [{"url": base_path}]}
        return response


api_schema = TenantSchemaView.as_view()
# The split view serves Swagger UI's start-up script as a file (`?script`), not inline: no inline script.
_swagger = SpectacularSwaggerSplitView.as_view(url_name="api-schema")


def api_docs(request: HttpRequest) -> HttpResponse:
    """`/api/docs/`: Swagger UI. An anonymous visitor (or a non-member: anonymous on this host) is sent to the
    login page unless settings.API_DOCS_PUBLIC; the view itself checks api_support.ApiDocsPermission too."""
    if not getattr(settings, "API_DOCS_PUBLIC", False) and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    return _swagger(request)


_STATUS_BY_ERROR: list[tuple[type[DomainError], int]] = [
    (InvalidValue, status.HTTP_400_BAD_REQUEST),
    (NotFound, status.HTTP_404_NOT_FOUND),
    (Conflict, status.HTTP_409_CONFLICT),
    (Forbidden, status.HTTP_403_FORBIDDEN),
]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map domain errors to responses; leave everything else (validation, auth, 404s) to DRF's handler.

    A DomainError outside the three kinds is a refused business rule too: 400. A domain error with a
    `field` (products, customers) is also reported under that field. Serializer errors get the value
    received appended to each message, e.g. `"stock": ["A valid integer is required. Received: '1; drop'."]`.
    """
    if isinstance(exc, DomainError):
        code = next((code for kind, code in _STATUS_BY_ERROR if isinstance(exc, kind)), status.HTTP_400_BAD_REQUEST)
        body: dict[str, Any] = {"detail": str(exc)}
        if isinstance(exc, Forbidden):
            # Machine-readable: the reason, and for a plan limit which limit of which plan (billing.domain).
            body["code"] = exc.code
            body.update({key: getattr(exc, key) for key in ("limit", "plan", "allowed", "usage") if hasattr(exc, key)})
        field = getattr(exc, "field", None)
        if isinstance(field, str):
            body[field] = [str(exc)]
        return Response(body, status=code)
    if isinstance(exc, ValidationError):
        request = context.get("request")
        try:
            data = request.data if request is not None else None
        except Exception:  # unparsable body: DRF reports that itself
            data = None
        exc.detail = _name_received_values(exc.detail, data)
    return drf_exception_handler(exc, context)


def _received(message: object, value: object) -> object:
    if isinstance(message, str):
        code = getattr(message, "code", None)
        return ErrorDetail(f"{message} Received: {shown(value)}.", code=code)
    return message


def _name_received_values(detail: Any, data: object) -> Any:
    """Append the received value to the messages of each field error (and to non-field errors for a body
    that is not an object), so every refusal names what was sent."""
    if not isinstance(detail, dict):
        return detail
    named = dict(detail)
    for field, messages in detail.items():
        if not isinstance(messages, list):
            continue
        if isinstance(data, Mapping) and field in data:
            named[field] = [_received(message, data[field]) for message in messages]
        elif field == "non_field_errors" and data is not None and not isinstance(data, Mapping):
            named[field] = [_received(message, data) for message in messages]
    return named
