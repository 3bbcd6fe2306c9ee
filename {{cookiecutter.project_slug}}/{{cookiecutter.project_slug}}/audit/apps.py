from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.audit"
    label = "audit"
    verbose_name = "Audit log"
