from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.bookings"
    label = "bookings"
    verbose_name = "Bookings"
