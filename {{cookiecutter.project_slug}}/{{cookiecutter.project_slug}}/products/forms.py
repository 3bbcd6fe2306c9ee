"""HTML forms: parse input into primitives; the rules live in domain.py and run in services."""

from django import forms

from .selectors import category_list


class ProductForm(forms.Form):
    name = forms.CharField(max_length=200)
    sku = forms.CharField(label="SKU", max_length=32, help_text="Letters, digits, '-' and '_'; stored uppercase.")
    price = forms.DecimalField(max_digits=10, decimal_places=2)
    category = forms.ModelChoiceField(queryset=category_list(), required=False)
    active = forms.BooleanField(required=False, initial=True)
    stock = forms.IntegerField(initial=0)

    def service_kwargs(self) -> dict[str, object]:
        """The cleaned data as keyword arguments of product_create / product_update."""
        data = self.cleaned_data
        category = data["category"]
        return {
            "name": data["name"],
            "sku": data["sku"],
            "price": data["price"],
            "category_id": category.pk if category else None,
            "active": data["active"],
            "stock": data["stock"],
        }
