"""Relative to the application's root: under a prefix (SITE_URL with a path) they follow it."""

from django.urls import path

from federation import views

app_name = "federation"

urlpatterns = [
    path(".well-known/openid-configuration", views.openid_configuration, name="openid_configuration"),
    path(".well-known/jwks.json", views.jwks, name="jwks"),
]
