"""Products REST API: list, retrieve, create, update. Domain errors become 400/404/409 in ..api."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

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


class ProductViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ProductOutputSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        active = self.request.query_params.get("active")
        return product_list(
            active=None if active is None else active.lower() in {"1", "true", "yes"},
            search=self.request.query_params.get("search"),
        )

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
