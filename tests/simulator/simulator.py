"""The :class:`Simulator` facade: registration, fault knobs, request log, lifecycle."""

from __future__ import annotations

import logging
import shutil
import ssl
import tempfile
import threading
from collections import deque
from pathlib import Path

from . import aadsts, dataverse, graph, tokens
from .dataverse import DataverseService
from .entra import EntraService
from .graph import GraphService
from .knobs import DROP, SILENT, Forced, Knobs, Rule, parse_response_entry
from .messages import Request, Response
from .oidc_issuers import OidcIssuers
from .protection import Limits
from .server import RequestLog, RequestRecord, SimulatorServer, tls_material
from .simulator_federation import FederationApi
from .simulator_identities import IdentityApi
from .simulator_tables import AccessApi
from .simulator_users import UserApi
from .state import AUTHORITY_CLOUDS, GRAPH_CLOUDS, Directory, environment_key

logger = logging.getLogger(__name__)


class Simulator(UserApi, AccessApi, FederationApi, IdentityApi):
    """A local HTTPS stand-in for Entra ID (app and user sign-in), the Dataverse Web API and Graph's applications.

    Serves on ``host:port`` (port 0 = a free port) from construction unless
    ``start=False``. Route requests for the real host names to it and trust
    ``ca_cert_path``; see the package docstring. The user (delegated) API is
    in :class:`~.simulator_users.UserApi`; tables, roles and access knobs in :class:`~.simulator_tables.AccessApi`;
    workload identity federation in :class:`~.simulator_federation.FederationApi`; managed identities in
    :class:`~.simulator_identities.IdentityApi`.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", start: bool = True) -> None:
        self.host = host
        self.directory = Directory()
        self.knobs = Knobs()
        self.log = RequestLog()
        self.entra = EntraService(self.directory)
        self.dataverse = DataverseService(self.directory)
        self.graph = GraphService(self.directory)
        self.ca, server_cert = tls_material()
        tokens.signing_bundle()  # generate the RSA signing key now, not on the first token request
        self._tmpdir = Path(tempfile.mkdtemp(prefix="entra-dataverse-sim-"))
        self.ca_cert_path = str(self._tmpdir / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_cert_path)
        self.issuers = self.entra.issuers = OidcIssuers(self.ca_cert_path)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_cert.configure_cert(context)
        self._server = SimulatorServer((host, port), context, self._dispatch, self.log)
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None
        if start:
            self.start()

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> Simulator:
        """Serve in a daemon thread (no-op if already serving)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"simulator:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection, including silent ones (managed-identity endpoints too)."""
        self.stop_managed_identity_endpoints()
        self._server.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=2)
        self._server.server_close()
        self._server.abort_connections()
        shutil.rmtree(self._tmpdir, ignore_errors=True)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget the directory, knobs, request log, clock offset, issuer routes and caches, MI endpoints."""
        self.stop_managed_identity_endpoints()
        self.directory.reset()
        self.issuers.reset()
        self.dataverse.reset()
        self.knobs.clear()
        self.log.clear()

    # --- registration -------------------------------------------------------------

    def add_tenant(self, tenant_id=None, domains=("contoso.onmicrosoft.com",), authority_host=None, display_name=None):
        """Register a tenant in the cloud of ``authority_host``; ``.tenant_id`` is a GUID."""
        return self.directory.add_tenant(
            tenant_id, domains, authority_host or "login.microsoftonline.com", display_name
        )

    def add_app(self, tenant_id, client_id=None, display_name="Gathr connector"):
        """Register an app (and its service principal, ``.object_id``) in a tenant."""
        return self.directory.add_app(tenant_id, client_id, display_name)

    def add_secret(self, client_id, value=None, secret_id=None, expires_at=None, display_name="Client secret"):
        """Add a client secret (``.secret_id`` is Graph's keyId); ``expires_at`` is a datetime or POSIX
        seconds (sim clock), by default two years from now, as the portal and addPassword give."""
        return self.directory.add_secret(client_id, value, secret_id, expires_at, display_name)

    def add_certificate(self, client_id, cert_pem, display_name=None):
        """Register a public certificate, matched by the assertion's ``x5t`` / ``x5t#S256``; Graph shows
        its notBefore/notAfter and ``display_name`` (default: the subject, ``CN=...``)."""
        return self.directory.add_certificate(client_id, cert_pem, display_name)

    def grant_graph(self, client_id, *permissions: str) -> list[str]:
        """Grant (with admin consent) Microsoft Graph application permissions, e.g. ``"Application.Read.All"``;
        tokens issued from now on carry them in ``roles``. Returns the app's Graph permissions."""
        return self.directory.grant_graph(client_id, permissions)

    def revoke_graph(self, client_id, *permissions: str) -> list[str]:
        """Take Graph application permissions away (tokens already issued keep their ``roles``)."""
        return self.directory.revoke_graph(client_id, permissions)

    def trust_subject_name(self, client_id, subject_cn, issuer_cert_pem):
        """Accept assertions whose ``x5c`` leaf has CN ``subject_cn`` and chains to this issuer."""
        return self.directory.trust_subject_name(client_id, subject_cn, issuer_cert_pem)

    def add_environment(
        self, url="https://contoso.crm.dynamics.com/", tenant_id=None, organization_id=None, version="9.2.25111.00171"
    ):
        """Register a Dataverse environment owned by ``tenant_id``."""
        return self.directory.add_environment(url, tenant_id, organization_id, version)

    def add_application_user(self, env_url, client_id):
        """Make the app a member (application user) of the environment; ``.user_id``."""
        return self.directory.add_application_user(env_url, client_id)

    # --- clock ----------------------------------------------------------------------

    @property
    def clock(self) -> float:
        """Seconds added to real time to get the simulator's "now"."""
        return self.directory.clock

    @clock.setter
    def clock(self, offset: float) -> None:
        self.directory.clock = float(offset)

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock forward (tokens and secrets expire by it)."""
        self.directory.clock += seconds

    def now(self) -> float:
        return self.directory.now()

    # --- request log ----------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received so far (a copy)."""
        return self.log.snapshot()

    def clear_requests(self) -> None:
        self.log.clear()

    def count(self, host: str | None = None, path_contains: str | None = None) -> int:
        """How many requests matched ``host`` (exact) and a substring of path?query."""
        return len(self._matching(host, path_contains))

    def connection_count(self, host: str | None = None, path_contains: str | None = None) -> int:
        """How many distinct TCP connections carried the matching requests."""
        return len({record.connection_id for record in self._matching(host, path_contains)})

    def _matching(self, host, path_contains) -> list[RequestRecord]:
        host = host.lower() if host else None
        return [
            r
            for r in self.log.snapshot()
            if (host is None or r.host == host)
            and (path_contains is None or path_contains in (r.path + (f"?{r.query}" if r.query else "")))
        ]

    # --- fault knobs ----------------------------------------------------------------

    def set_delay(self, seconds: float, host=None, path=None, times=None) -> None:
        """Sleep ``seconds`` before answering matching requests."""
        self.knobs.add(Rule("delay", host, path, seconds=seconds, remaining=times))

    def set_responses(self, responses, host=None, path=None) -> None:
        """Queue forced statuses: ``[(503, {"Retry-After": "1"}), 200]``; 200/None = answer normally."""
        entries = deque(parse_response_entry(entry) for entry in responses)
        if entries:
            self.knobs.add(Rule("respond", host, path, responses=entries))

    def set_drop(self, host=None, path=None, times=None) -> None:
        """Read matching requests, then close the connection without a response."""
        self.knobs.add(Rule("drop", host, path, remaining=times))

    def set_silent(self, host=None, path=None, times=None) -> None:
        """Read matching requests and never answer (connections are closed by stop())."""
        self.knobs.add(Rule("silent", host, path, remaining=times))

    def set_redirect(self, location: str, host=None, path=None, status: int = 302, times=None) -> None:
        """Answer matching requests with a redirect to ``location``."""
        redirect = Forced(status, {"Location": location}, b"")
        self.knobs.add(Rule("redirect", host, path, redirect=redirect, remaining=times))

    def set_aadsts(self, code: int, host=None, path="/oauth2/v2.0/token", times: int = 1) -> None:
        """Answer the next ``times`` matching requests with AADSTS``code`` exactly as Entra sends it (status,
        ``error``, ``error_description``, ``error_codes``, trace and correlation ids, timestamp); the codes are
        those of :data:`.aadsts.DOCUMENTED`, for situations the directory cannot reach by itself."""
        if code not in aadsts.DOCUMENTED:
            raise ValueError(f"AADSTS{code} is not in aadsts.DOCUMENTED; add it there as Microsoft sends it")
        status = aadsts.DOCUMENTED[code][0]
        entries = deque(Forced(status, aadsts=code) for _ in range(times))
        self.knobs.add(Rule("respond", host, path, responses=entries))

    def set_service_protection(
        self,
        env_url: str,
        requests: int = 6000,
        execution_seconds: float = 1200.0,
        concurrent: int = 52,
        remaining_requests: int | None = None,
        remaining_seconds: float | None = None,
        request_seconds: float = 0.01,
        retry_after: int | None = None,
        window: int = 300,
    ) -> None:
        """Enforce Dataverse's service protection limits on the environment, per user and 300-s window:
        more than ``requests`` (0x80072322), ``execution_seconds`` (0x80072321) or ``concurrent`` requests
        in flight (0x80072326) answer 429 with ``Retry-After`` (``retry_after``, or until the window has
        room). ``remaining_requests`` / ``remaining_seconds`` start every user with that much left. Resets
        the environment's counters; see :mod:`.protection`."""
        used_requests = requests - remaining_requests if remaining_requests is not None else 0
        used_seconds = execution_seconds - remaining_seconds if remaining_seconds is not None else 0.0
        seed = (self.now(), used_requests, used_seconds) if used_requests or used_seconds else None
        limits = Limits(
            requests, execution_seconds, concurrent, window, request_seconds, retry_after, enforced=True, seed=seed
        )
        self.dataverse.protection.configure(environment_key(env_url), limits)

    def disable_app(self, client_id, disabled: bool = True) -> None:
        """Like switching off "Enabled for users to sign in": token requests fail with AADSTS7000112."""
        self.directory._app(client_id).enabled = not disabled

    def clear_knobs(self) -> None:
        """Forget every fault knob, service protection (its limits are then reported, not enforced), blocked apps,
        IP firewalls and endless paging included."""
        self.knobs.clear()
        self.dataverse.clear_knobs()

    # --- dispatch -------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response | str:
        if request.host in AUTHORITY_CLOUDS or request.host in GRAPH_CLOUDS:
            return self._answer(request)
        with self.dataverse.protection.in_flight(environment_key(request.host), request):
            return self._answer(request)

    def _answer(self, request: Request) -> Response | str:
        decision = self.knobs.decide(request)
        if decision.delay and self._server.stopping.wait(decision.delay):
            return DROP
        if decision.outcome in (SILENT, DROP):
            return decision.outcome
        try:
            if isinstance(decision.outcome, Forced):
                return self._forced(request, decision.outcome)
            if request.host in AUTHORITY_CLOUDS:
                return self.entra.handle(request)
            if request.host in GRAPH_CLOUDS:
                return self.graph.handle(request)
            return self.dataverse.handle(request)
        except Exception:
            logger.exception("simulator failed on %s %s%s", request.method, request.host, request.path)
            return Response.json(500, {"error": "simulator_bug"})

    def _forced(self, request: Request, forced: Forced) -> Response:
        body = forced.body
        if forced.aadsts is not None:
            form = request.form()
            app = self.directory.find_app_in_cloud(form.get("client_id", ""), request.host)
            error = aadsts.documented_error(forced.aadsts, form, app.display_name if app else "")
            return self.entra.error(request, error, forced.headers)
        if isinstance(body, dict):
            return Response.json(forced.status, body, forced.headers)
        if body is not None:
            return Response(forced.status, forced.headers, body.encode() if isinstance(body, str) else body)
        if request.host in AUTHORITY_CLOUDS:
            return self.entra.error(request, aadsts.forced_error(forced.status), forced.headers)
        if request.host in GRAPH_CLOUDS:
            return graph.forced_error(request, forced.status, forced.headers, self.now())
        if self.directory.find_environment(request.host):
            return dataverse.forced_response(forced.status, forced.headers)
        return Response.empty(forced.status, forced.headers)
