"""TESTs: of a saved connection, of unsaved values (the create body), and a TEST's progress and result.

The same use cases as the pages (connections/background.py): the Premium gate, TEST's rate limits, one TEST at a
time per connection and the queue's outage are their errors, which api/problems.py answers. Only the user who
started a TEST may read it (connections/run_views.own_run), as on the pages.
"""

import uuid

from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from api import body
from api.connection_input import ConnectionInputSerializer
from api.schema_docs import problems
from api.serializers import TestRunSerializer
from connections import access, background, history, run_views
from connections.callback_url import default_callback_url
from connections.forms import SENSITIVE_FIELDS, ConnectionForm
from connections.runs import RunSource, RunState, TestRun

STARTED = OpenApiResponse(TestRunSerializer, description="Started: follow the TEST at the Location header's URL.")
TEST_REFUSALS = (409, 429)


def run_data(run: TestRun) -> dict:
    """The TEST as the API shows it: the page's result object once finished, the live steps before."""
    result = history.result_of(run)
    answer = {
        "id": run.pk,
        "state": run.state,
        "done": run.finished,
        "connection": run.connection_id,
        "position": TestRun.objects.queued_before(run) if run.state == RunState.QUEUED else None,
    }
    if result is None:
        empty = dict.fromkeys(("ok", "step", "code", "message", "hint", "details", "elapsed"))
        return answer | empty | {"steps": run.steps}
    fields = ("ok", "step", "code", "message", "hint", "details", "elapsed")
    return answer | {name: getattr(result, name) for name in fields} | {"steps": result.steps_as_data()}


def started(request, run: TestRun) -> Response:
    location = request.build_absolute_uri(reverse("api:test_run", args=[run.pk]))
    data = TestRunSerializer(run_data(run)).data
    return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class ConnectionTests(APIView):
    @extend_schema(request=None, responses={202: STARTED, **problems(*TEST_REFUSALS)})
    def post(self, request, pk: int):
        """TEST the saved connection with its stored credential."""
        connection = access.usable_or_404(request.user, pk)
        return started(request, background.start_saved(connection, request.user, RunSource.API))


@method_decorator(sensitive_variables("data", "files", "form"), name="post")
class UnsavedTests(APIView):
    @extend_schema(request=ConnectionInputSerializer, responses={202: STARTED, **problems(400, 415, *TEST_REFUSALS)})
    def post(self, request):
        """TEST a connection's values without saving them (the body of a create); CREATE with the same values
        within 15 minutes makes this TEST the new connection's first."""
        data, files = body.form_input(request.data)
        form = ConnectionForm(data, files, default_callback_url=default_callback_url(request))
        if not form.is_valid():
            raise body.invalid(form)
        values = {name: value for name, value in data.items() if name not in SENSITIVE_FIELDS}
        run = run_views.start_form_test(form, request.user, values)
        return started(request, run)


class TestRunDetail(APIView):
    @extend_schema(responses={200: TestRunSerializer, **problems()})
    def get(self, request, run_id: uuid.UUID):
        """A TEST's progress and result, for the user who started it (anyone else: 404)."""
        return Response(TestRunSerializer(run_data(run_views.own_run(request, run_id))).data)
