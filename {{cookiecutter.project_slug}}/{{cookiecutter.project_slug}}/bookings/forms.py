"""HTML forms: parse input into primitives; the rules live in domain.py and run in services."""

from django import forms

from ..customers.selectors import customer_list
from ..products.selectors import product_list


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M")


class BookingForm(forms.Form):
    product = forms.ModelChoiceField(queryset=product_list(active=True))
    customer = forms.ModelChoiceField(queryset=customer_list())
    start = forms.DateTimeField(widget=DateTimeInput(), help_text="In the site's time zone.")
    end = forms.DateTimeField(widget=DateTimeInput())
