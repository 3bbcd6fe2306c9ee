from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.audit"
    label = "audit"
    verbose_name = "Audit log"
{%- if cookiecutter.use_celery == "y" %}

    def ready(self) -> None:
        from . import celery_origin  # noqa: F401  # connects the Celery task origin receivers
{%- endif %}
