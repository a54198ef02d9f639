from django.urls import path, re_path
from drf_spectacular.views import SpectacularJSONAPIView

from api import connection_views, docs, health_views, problems, test_views

app_name = "api"

urlpatterns = [
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="schema"),
    path("docs/", docs.docs, name="docs"),
    path("connections/", connection_views.ConnectionList.as_view(), name="connections"),
    path("connections/<int:pk>/", connection_views.ConnectionDetail.as_view(), name="connection"),
    path("connections/<int:pk>/tests/", test_views.ConnectionTests.as_view(), name="connection_tests"),
    path("connections/<int:pk>/history/", health_views.ConnectionHistory.as_view(), name="history"),
    path("connections/<int:pk>/access-check/", health_views.ConnectionAccessCheck.as_view(), name="access_check"),
    path("tests/", test_views.UnsavedTests.as_view(), name="tests"),
    path("tests/<uuid:run_id>/", test_views.TestRunDetail.as_view(), name="test_run"),
    re_path(r"^(?P<rest>.*)$", problems.not_found),  # last: what matched nothing above
]
