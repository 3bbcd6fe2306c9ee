from django.apps import AppConfig


class AdoptionConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.adoption"
    label = "adoption"
    verbose_name = "Adoption"
