"""The connections resource: list, create, read, update and delete, through the pages' own rules.

Values are checked by ConnectionForm, who may do what by connections/access.py, saving and its audit events by
connections/changes.py; creating and updating need the Premium connector (as the pages' CREATE and SAVE do).
"""

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from api import body, etags
from api.connection_input import ConnectionInputSerializer
from api.problems import ProblemError
from api.schema_docs import problems
from api.serializers import ConnectionSerializer, paginated
from connections import access, changes
from connections.callback_url import default_callback_url
from connections.forms import ConnectionForm
from connections.models import Connection, CrmVersion, Health
from marketplace import gate
from marketplace.catalogue import DYNAMICS_CRM

ETAG_HEADER = OpenApiResponse(ConnectionSerializer, description="The connection; its version in the ETag header.")
IF_MATCH = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER, required=True, description="The ETag of the connection as last read."
)
FILTERS = [
    OpenApiParameter("name", str, description="Connections whose name contains this (any case)."),
    OpenApiParameter("crm_version", str, enum=CrmVersion.values),
    OpenApiParameter("state", str, enum=Health.values, description="The connection's health."),
]


class Pages(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100


def represented(connection: Connection, status_code: int = 200, headers=None) -> Response:
    response = Response(ConnectionSerializer(connection).data, status=status_code, headers=headers)
    response["ETag"] = etags.etag(connection)
    return response


def filtered(user, params) -> QuerySet:
    connections = access.visible_to(user, Connection.objects.with_owner()).order_by(Lower("name"), "pk")
    errors = {}
    for name, choices in (("crm_version", CrmVersion.values), ("state", Health.values)):
        if params.get(name) and params[name] not in choices:
            errors[name] = [f"Choose one of: {', '.join(choices)}."]
    if errors:
        raise ProblemError(400, "validation", "The filters are not valid.", errors=errors)
    if params.get("name"):
        connections = connections.filter(name__icontains=params["name"][:200])
    if params.get("crm_version"):
        connections = connections.filter(crm_version=params["crm_version"])
    if params.get("state"):
        connections = connections.filter(health=params["state"])
    return connections


@method_decorator(sensitive_variables("data", "files", "form"), name="post")
class ConnectionList(APIView):
    @extend_schema(
        operation_id="connections_list",
        parameters=FILTERS,
        responses={200: paginated(ConnectionSerializer), **problems(400)},
    )
    def get(self, request):
        pages = Pages()
        page = pages.paginate_queryset(filtered(request.user, request.query_params), request, view=self)
        return pages.get_paginated_response(ConnectionSerializer(page, many=True).data)

    @extend_schema(request=ConnectionInputSerializer, responses={201: ETAG_HEADER, **problems(400, 415)})
    def post(self, request):
        gate.require(DYNAMICS_CRM)
        data, files = body.form_input(request.data)
        form = ConnectionForm(data, files, default_callback_url=default_callback_url(request))
        if not form.is_valid():
            raise body.invalid(form)
        try:
            connection = changes.create(form, request.user)
        except (changes.NameTakenError, IntegrityError):
            raise body.invalid(form) from None
        return represented(connection, status.HTTP_201_CREATED, {"Location": detail_url(request, connection)})


def detail_url(request, connection: Connection) -> str:
    return request.build_absolute_uri(f"/api/v1/connections/{connection.pk}/")


@method_decorator(sensitive_variables("data", "files", "form"), name="_update")
class ConnectionDetail(APIView):
    @extend_schema(responses={200: ETAG_HEADER, **problems()})
    def get(self, request, pk: int):
        return represented(access.usable_or_404(request.user, pk, Connection.objects.with_owner()))

    @extend_schema(
        request=ConnectionInputSerializer,
        parameters=[IF_MATCH],
        responses={200: ETAG_HEADER, **problems(400, 409, 412, 415, 428)},
        description="Changes the fields the body names; the others keep their values. A blank or absent secret, "
        "certificate or password keeps the stored one.",
    )
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    @extend_schema(
        request=ConnectionInputSerializer,
        parameters=[IF_MATCH],
        responses={200: ETAG_HEADER, **problems(400, 409, 412, 415, 428)},
        description="Replaces every field with the body's (absent ones are blank or their default). A blank or "
        "absent secret, certificate or password keeps the stored one.",
    )
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(parameters=[IF_MATCH], responses={204: None, **problems(412, 428)})
    def delete(self, request, pk: int):
        with transaction.atomic():
            connection = _locked(request.user, pk)
            etags.require_match(request, connection)
            changes.delete(connection, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request, pk: int, *, partial: bool) -> Response:
        with transaction.atomic():
            connection = _locked(request.user, pk)
            gate.require(DYNAMICS_CRM)
            etags.require_match(request, connection)
            data, files = body.form_input(request.data, connection if partial else None)
            form = ConnectionForm(data, files, instance=connection, default_callback_url=default_callback_url(request))
            if not form.is_valid():
                raise body.invalid(form)
            try:
                saved = changes.save(form, request.user)
            except changes.NameTakenError:
                raise body.invalid(form) from None
            except changes.DeletedMeanwhileError:
                raise ProblemError(404, "not-found", "The connection was deleted meanwhile.") from None
        return represented(saved)


def _locked(user, pk: int) -> Connection:
    """The connection the user may change, its row held until the transaction ends (If-Match, then the write)."""
    rows = Connection.objects.with_owner().select_for_update(of=("self",))
    return access.manageable_or_403(user, pk, rows)
