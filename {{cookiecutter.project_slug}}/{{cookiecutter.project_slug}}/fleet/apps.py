from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.fleet"
    label = "fleet"
    verbose_name = "Fleet operations"
