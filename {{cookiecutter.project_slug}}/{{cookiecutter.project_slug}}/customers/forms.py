"""HTML forms: parse input into primitives; the rules live in domain.py and run in services."""

from django import forms


class CustomerForm(forms.Form):
    name = forms.CharField(max_length=200)
    # A CharField, not an EmailField: domain.normalize_email is the one email rule.
    email = forms.CharField(max_length=254, widget=forms.EmailInput)
    phone = forms.CharField(max_length=32, required=False)

    def service_kwargs(self) -> dict[str, str]:
        """The cleaned data as keyword arguments of customer_create / customer_update."""
        return {key: self.cleaned_data[key] for key in ("name", "email", "phone")}
