"""Customers REST API: list, retrieve, create, update. Domain errors become 400/404/409 in ..api."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

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


class CustomerViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = CustomerOutputSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return customer_list(search=self.request.query_params.get("search"))

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
