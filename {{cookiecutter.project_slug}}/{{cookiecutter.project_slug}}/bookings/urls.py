from django.urls import path

from . import views

app_name = "bookings"

urlpatterns = [
    path("", views.booking_list_view, name="list"),
    path("new/", views.booking_create_view, name="create"),
    path("<int:pk>/cancel/", views.booking_cancel_view, name="cancel"),
]
