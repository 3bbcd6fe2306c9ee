"""Products REST API: list, retrieve, create, update. Domain errors become 400/404/409 in ..api."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from ..accounts.permissions import TenantRolePermission
from ..api_support import BOOLEAN_MESSAGES, query_params_validate
from .models import Product
from .selectors import product_get, product_list
from .services import product_create, product_update

# Largest values the columns hold: BigAutoField ids, PositiveIntegerField stock.
ID_MAX = 2**63 - 1
STOCK_MAX = 2**31 - 1


class ProductOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "name", "sku", "price", "category", "active", "stock", "low_stock", "created", "updated"]
        read_only_fields = fields


class ProductInputSerializer(serializers.Serializer):
    """Types and storage ranges only; the catalogue rules (SKU format, price range, ...) are checked by the services.

    Integers are bounded by their columns, so an out-of-range number is a 400 naming it, never a database error.
    """

    name = serializers.CharField()
    sku = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=4)
    category_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=ID_MAX)
    active = serializers.BooleanField(required=False, default=True)
    stock = serializers.IntegerField(required=False, default=0, max_value=STOCK_MAX)


class ProductFilterSerializer(serializers.Serializer):
    """Query parameters of the product list (products.selectors.product_list); a bad value is a 400 naming it."""

    active = serializers.BooleanField(
        required=False, allow_null=True, default=None, error_messages=BOOLEAN_MESSAGES,
        help_text="Only active (true) or inactive (false) products.",
    )  # fmt: skip
    search = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Part of the name or SKU, ignoring case."
    )


@extend_schema_view(list=extend_schema(parameters=[ProductFilterSerializer]))
class ProductViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ProductOutputSerializer
    permission_classes = [TenantRolePermission]
    lookup_value_regex = r"\d+"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return product_list()

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(product_list(**query_params_validate(ProductFilterSerializer, request)))
        return self.get_paginated_response(ProductOutputSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ProductOutputSerializer(product_get(product_id=int(pk))).data)

    @extend_schema(request=ProductInputSerializer, responses={201: ProductOutputSerializer})
    def create(self, request: Request) -> Response:
        data = ProductInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = product_create(**data.validated_data)
        return Response(ProductOutputSerializer(product).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProductInputSerializer(partial=True), responses=ProductOutputSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        data = ProductInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        product = product_update(product_id=int(pk), **data.validated_data)
        return Response(ProductOutputSerializer(product).data)
