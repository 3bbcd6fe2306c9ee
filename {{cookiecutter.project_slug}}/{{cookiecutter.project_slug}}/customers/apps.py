from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.customers"
    label = "customers"
    verbose_name = "Customers"
