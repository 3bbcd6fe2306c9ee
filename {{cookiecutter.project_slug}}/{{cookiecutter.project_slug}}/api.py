"""The tenant REST API (served on tenant hosts under /api/; the host selects the tenant's schema).

`exception_handler` is REST_FRAMEWORK["EXCEPTION_HANDLER"]: domain errors become
400 (InvalidValue), 404 (NotFound) or 409 (Conflict) with {"detail": message}.
"""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import exception_handler as drf_exception_handler

from .bookings.api import BookingViewSet
from .customers.api import CustomerViewSet
from .errors import Conflict, DomainError, InvalidValue, NotFound
from .products.api import ProductViewSet

router = DefaultRouter()
router.register("products", ProductViewSet, basename="product")
router.register("customers", CustomerViewSet, basename="customer")
router.register("bookings", BookingViewSet, basename="booking")

urlpatterns = router.urls

_STATUS_BY_ERROR: list[tuple[type[DomainError], int]] = [
    (InvalidValue, status.HTTP_400_BAD_REQUEST),
    (NotFound, status.HTTP_404_NOT_FOUND),
    (Conflict, status.HTTP_409_CONFLICT),
]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map domain errors to responses; leave everything else (validation, auth, 404s) to DRF's handler.

    A DomainError outside the three kinds is a refused business rule too: 400.
    """
    if isinstance(exc, DomainError):
        code = next((code for kind, code in _STATUS_BY_ERROR if isinstance(exc, kind)), status.HTTP_400_BAD_REQUEST)
        return Response({"detail": str(exc)}, status=code)
    return drf_exception_handler(exc, context)
