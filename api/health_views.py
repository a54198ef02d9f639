"""A connection's health: its TEST history (paginated) and its latest Check access, which can be started here too
(connections/access_background.py: the gate, TEST's rate limits, a good TEST first, one at a time)."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from api import body
from api.connection_input import AccessCheckInputSerializer
from api.connection_views import Pages
from api.problems import ProblemError
from api.schema_docs import problems
from api.serializers import AccessCheckSerializer, HistoryRowSerializer, paginated
from connections import access, access_background, history_page
from connections.access_checks import AccessCheck
from connections.access_forms import AccessCheckForm
from connections.models import Connection

NO_CHECK = "Check access has not run for this connection yet: POST to start it (after a good TEST)."


class ConnectionHistory(APIView):
    @extend_schema(
        operation_id="connections_history_list", responses={200: paginated(HistoryRowSerializer), **problems()}
    )
    def get(self, request, pk: int):
        """The connection's finished TESTs, newest first."""
        connection = access.usable_or_404(request.user, pk)
        pages = Pages()
        runs = history_page.finished_tests(connection).select_related("started_by")
        page = pages.paginate_queryset(runs, request, view=self)
        return pages.get_paginated_response(
            HistoryRowSerializer([history_page.row(run) for run in page], many=True).data
        )


def check_data(run: AccessCheck) -> dict:
    return {
        "id": run.pk,
        "state": run.state,
        "done": run.finished,
        "ok": (run.result or {}).get("ok") if run.finished else None,
        "named_tables": run.named_tables,
        "steps": run.steps,
        "result": run.result if run.finished else None,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
    }


class ConnectionAccessCheck(APIView):
    @extend_schema(responses={200: AccessCheckSerializer, **problems()})
    def get(self, request, pk: int):
        """The latest Check access of the connection (running or finished)."""
        connection = access.usable_or_404(request.user, pk)
        run = AccessCheck.objects.filter(connection=connection).order_by("-created_at").first()
        if run is None:
            raise ProblemError(404, "not-found", NO_CHECK)
        if run.is_stale():
            access_background.end_stale(run)
            run.refresh_from_db()
        return Response(AccessCheckSerializer(check_data(run)).data)

    @extend_schema(
        request=AccessCheckInputSerializer,
        responses={202: OpenApiResponse(AccessCheckSerializer), **problems(400, 409, 415, 429)},
    )
    def post(self, request, pk: int):
        """Start Check access: what the connection's principal can read (after a good TEST)."""
        connection: Connection = access.usable_or_404(request.user, pk, Connection.objects.with_owner())
        tables = request.data.get("tables", "") if isinstance(request.data, dict) else None
        if not isinstance(tables, str):
            raise ProblemError(400, "validation", "The body must be {\"tables\": \"...\"}.",
                               errors={"tables": [body.NOT_A_STRING]})  # fmt: skip
        form = AccessCheckForm({"tables": tables})
        if not form.is_valid():
            raise body.invalid(form)
        run = access_background.start(connection, request.user, form.cleaned_data["tables"])
        location = request.build_absolute_uri(reverse("api:access_check", args=[pk]))
        return Response(AccessCheckSerializer(check_data(run)).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": location})  # fmt: skip
