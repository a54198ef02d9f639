from django.urls import path

from connections import access_views, preview_views, rotation_views, run_views, sign_in, views
from marketplace.catalogue import DYNAMICS_CRM
from marketplace.gate import requires_connector

app_name = "connections"

# Creating, editing, TESTing (and signing in for TEST) need the Premium connector's trial or subscription;
# seeing, deleting and signing out do not.
gated = requires_connector(DYNAMICS_CRM)
acting = requires_connector(DYNAMICS_CRM, pages=False)  # its GET acts (sends the admin to Microsoft)

urlpatterns = [
    path("", views.connection_list, name="list"),
    path("new/", gated(views.connection_create), name="create"),
    path("oauth/callback/", sign_in.oauth_callback, name="oauth_callback"),
    path("<int:pk>/", views.connection_detail, name="detail"),
    path("<int:pk>/edit/", gated(views.connection_edit), name="edit"),
    path("<int:pk>/delete/", views.connection_delete, name="delete"),
    # The TEST use case applies the gate itself (connections/testing.py), for the admin and the command too.
    path("<int:pk>/test/", run_views.connection_test, name="test"),
    path("tests/<uuid:run_id>/", run_views.test_run, name="test_run"),
    # Check access applies the gate itself (connections/access_background.py), as TEST does.
    path("<int:pk>/access/", access_views.check_access, name="check_access"),
    path("access/<uuid:check_id>/", access_views.access_check, name="access_check"),
    # Rotation (the Credentials panel): adding and promoting change the connection, as Edit does; discarding does not
    # need the connector, as Delete does not; TEST applies the gate itself.
    path("<int:pk>/credentials/new/", gated(rotation_views.add_credential), name="add_credential"),
    path("<int:pk>/credentials/new/test/", rotation_views.test_new_credential, name="test_new_credential"),
    path("<int:pk>/credentials/new/promote/", gated(rotation_views.promote_credential), name="promote_credential"),
    path("<int:pk>/credentials/<str:role>/discard/", rotation_views.discard_credential, name="discard_credential"),
    # Preview (a table's first rows, shown and never stored) applies the gate itself, after the access rules.
    path("<int:pk>/preview/", preview_views.preview_table, name="preview"),
    path("<int:pk>/sign-in/", acting(sign_in.sign_in), name="sign_in"),
    path("<int:pk>/sign-out/", sign_in.sign_out, name="sign_out"),
]
