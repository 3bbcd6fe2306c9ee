from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.billing"
    label = "billing"
    verbose_name = "Billing"
