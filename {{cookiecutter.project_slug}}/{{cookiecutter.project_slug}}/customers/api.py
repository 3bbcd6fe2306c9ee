"""Customers REST API: list, retrieve, create, update. Domain errors become 400/404/409 in ..api."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from ..accounts.permissions import TenantRolePermission
from ..api_support import query_params_validate
from .models import Customer
from .selectors import customer_get, customer_list
from .services import customer_create, customer_update


class CustomerOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "name", "email", "phone", "created"]
        read_only_fields = fields


class CustomerInputSerializer(serializers.Serializer):
    """Types only; the customer rules (email format and uniqueness, phone format) are checked by the services."""

    name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class CustomerFilterSerializer(serializers.Serializer):
    """Query parameters of the customer list (customers.selectors.customer_list); a bad value is a 400 naming it."""

    search = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Part of the name, email or phone, ignoring case."
    )


@extend_schema_view(list=extend_schema(parameters=[CustomerFilterSerializer]))
class CustomerViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = CustomerOutputSerializer
    permission_classes = [TenantRolePermission]
    lookup_value_regex = r"\d+"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return customer_list()

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(customer_list(**query_params_validate(CustomerFilterSerializer, request)))
        return self.get_paginated_response(CustomerOutputSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(CustomerOutputSerializer(customer_get(customer_id=int(pk))).data)

    @extend_schema(request=CustomerInputSerializer, responses={201: CustomerOutputSerializer})
    def create(self, request: Request) -> Response:
        data = CustomerInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = customer_create(**data.validated_data)
        return Response(CustomerOutputSerializer(customer).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CustomerInputSerializer(partial=True), responses=CustomerOutputSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        data = CustomerInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        customer = customer_update(customer_id=int(pk), **data.validated_data)
        return Response(CustomerOutputSerializer(customer).data)
