"""HTML forms: parse input into primitives; the rules live in domain.py and run in services."""

from django import forms
from django.core.files import File

from .selectors import category_list


class ProductImageField(forms.ImageField):
    """An ImageField whose error for a file that is no picture names the file and the accepted formats."""

    def to_python(self, data: File | None) -> File | None:
        try:
            return super().to_python(data)
        except forms.ValidationError as exc:
            if exc.code != "invalid_image":
                raise
            name = getattr(data, "name", "") or "the file"
            raise forms.ValidationError(
                f"{name!r} is not an image; expected a PNG, JPEG, GIF or WebP picture.", code="invalid_image"
            ) from None


class ProductForm(forms.Form):
    name = forms.CharField(max_length=200)
    sku = forms.CharField(label="SKU", max_length=32, help_text="Letters, digits, '-' and '_'; stored uppercase.")
    price = forms.DecimalField(max_digits=10, decimal_places=2)
    category = forms.ModelChoiceField(queryset=category_list(), required=False)
    active = forms.BooleanField(required=False, initial=True)
    stock = forms.IntegerField(initial=0)
    # Shows the current image with a "Clear" box on the edit page; stored in the tenant's media folder.
    image = ProductImageField(required=False, help_text="PNG, JPEG, GIF or WebP, at most 5 MB.")

    def service_kwargs(self) -> dict[str, object]:
        """The cleaned data as keyword arguments of product_create / product_update."""
        data = self.cleaned_data
        category = data["category"]
        kwargs: dict[str, object] = {
            "name": data["name"],
            "sku": data["sku"],
            "price": data["price"],
            "category_id": category.pk if category else None,
            "active": data["active"],
            "stock": data["stock"],
        }
        # Unchanged: nothing uploaded (keep the image); False: "Clear" ticked (remove it); else the new file.
        if "image" in self.changed_data:
            kwargs["image"] = data["image"] or None
        return kwargs
