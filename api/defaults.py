"""The REST API's settings (Django REST framework, drf-spectacular): constants, none read from the environment;
gathr_connector/settings.py imports them."""

# The REST API under /api/v1/ (api/; docs/decisions/0015-rest-api.md): JSON only, errors as RFC 9457 problems.
REST_FRAMEWORK = {
    # A Bearer token first: an anonymous request is then answered 401 with WWW-Authenticate (REST framework asks the
    # first class); the browser's session keeps CSRF protection for unsafe methods.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api_tokens.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.problems.handle",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gathr Dynamics CRM connector API",
    "DESCRIPTION": "Connections, TESTs and health. Errors are RFC 9457 problem details (application/problem+json). "
    "Changes need If-Match with the ETag of the last read.",
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema is public (it holds no data): a client reads it before it has a token.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"HealthEnum": "connections.choices.Health", "RunStateEnum": "connections.runs.RunState"},
}
