"""Bookings REST API: list, retrieve, create, cancel. Domain errors become 400/404/409 in ..api."""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from ..accounts.permissions import TenantRolePermission
from ..api_support import choices_message, query_params_validate
from .domain import BookingStatus, Slot
from .models import Booking
from .repositories import DjangoBookingRepository
from .selectors import booking_get, booking_list
from .services import booking_cancel, booking_create

ID_MAX = 2**63 - 1  # largest BigAutoField id


class BookingOutputSerializer(serializers.ModelSerializer):
    product_id = serializers.IntegerField()
    customer_id = serializers.IntegerField()
    created_by = serializers.EmailField(
        source="created_by.email",
        read_only=True,
        allow_null=True,
        help_text="Email of the user who recorded the booking; null when not known.",
    )

    class Meta:
        model = Booking
        fields = ["id", "product_id", "customer_id", "start", "end", "status", "created", "created_by"]
        read_only_fields = fields


class BookingInputSerializer(serializers.Serializer):
    """Types and id ranges only; the slot rules (end after start, no overlap) are checked by the domain and services.

    Ids are bounded by their columns, so an out-of-range number is a 400 naming it, never a database error.
    """

    product_id = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    customer_id = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class BookingFilterSerializer(serializers.Serializer):
    """Query parameters of the booking list (bookings.selectors.booking_list); a bad value is a 400 naming it.

    Datetimes are ISO 8601; one without an offset is in settings.TIME_ZONE.
    """

    status = serializers.ChoiceField(
        choices=[s.value for s in BookingStatus], required=False,
        error_messages=choices_message([s.value for s in BookingStatus]),
    )  # fmt: skip
    product_id = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    customer_id = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    starting_from = serializers.DateTimeField(required=False, help_text="Bookings starting at or after this moment.")
    starting_before = serializers.DateTimeField(required=False, help_text="Bookings starting before this moment.")
    ending_after = serializers.DateTimeField(required=False, help_text="Bookings not yet over at this moment.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, before = attrs.get("starting_from"), attrs.get("starting_before")
        if start is not None and before is not None and before <= start:
            message = f"starting_before {before.isoformat()} must be after starting_from {start.isoformat()}."
            raise serializers.ValidationError({"starting_before": [message]})
        return attrs


@extend_schema_view(list=extend_schema(parameters=[BookingFilterSerializer]))
class BookingViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = BookingOutputSerializer
    permission_classes = [TenantRolePermission]
    role_actions = {"cancel": "update"}  # a POST that changes a booking, not a new one
    lookup_value_regex = r"\d+"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return booking_list().select_related("created_by")

    def list(self, request: Request) -> Response:
        filters = query_params_validate(BookingFilterSerializer, request)
        page = self.paginate_queryset(booking_list(**filters).select_related("created_by"))
        return self.get_paginated_response(BookingOutputSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(BookingOutputSerializer(booking_get(booking_id=int(pk))).data)

    @extend_schema(request=BookingInputSerializer, responses={201: BookingOutputSerializer})
    def create(self, request: Request) -> Response:
        data = BookingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        booking_id = booking_create(
            bookings=DjangoBookingRepository(),
            product_id=values["product_id"],
            customer_id=values["customer_id"],
            slot=Slot(start=values["start"], end=values["end"]),
            created_by_id=request.user.pk,
        )
        return Response(
            BookingOutputSerializer(booking_get(booking_id=booking_id)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses=BookingOutputSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        booking_cancel(bookings=DjangoBookingRepository(), booking_id=int(pk))
        return Response(BookingOutputSerializer(booking_get(booking_id=int(pk))).data)
