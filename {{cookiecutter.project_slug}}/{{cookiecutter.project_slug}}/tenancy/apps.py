from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy"
