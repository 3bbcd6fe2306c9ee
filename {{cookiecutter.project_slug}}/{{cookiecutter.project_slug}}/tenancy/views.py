from django.shortcuts import render
from django.http import HttpRequest, HttpResponse


def landing(request: HttpRequest) -> HttpResponse:
    """Public landing page on the public host."""
    return render(request, "public/landing.html")
