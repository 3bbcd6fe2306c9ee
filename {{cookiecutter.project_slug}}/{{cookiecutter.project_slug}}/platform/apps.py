from django.apps import AppConfig


class PlatformConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.platform"
    label = "platform"
    verbose_name = "Platform"
