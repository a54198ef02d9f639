"""The Django app served over TLS on loopback under a real-looking host name, for tests where someone else (the
Microsoft simulator's Entra, say) must reach the app by https.

Like pytest-django's ``live_server`` (Django's LiveServerThread and ThreadedWSGIServer, the test database shared
through ``transactional_db`` and in-memory SQLite's shared connection, static files served), but each accepted
socket is wrapped in TLS server-side, in its own thread, with a certificate from the simulator's CA for
``https_live_server_host`` (``issuer.gathr.test`` unless a test overrides that fixture). The fixture also routes
the name for the simulator (``simulator.route_issuer``) and for the app's outbound guard (the ``resolver``
fixture), and allows it in ALLOWED_HOSTS::

    def test_entra_fetches_our_keys(microsoft, https_live_server):
        issuer = https_live_server.url  # https://issuer.gathr.test:PORT
"""

from __future__ import annotations

import logging
import ssl

import pytest
import trustme
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler

logger = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10


class HttpsRequestHandler(QuietWSGIRequestHandler):
    def get_environ(self):
        environ = super().get_environ()
        environ["HTTPS"] = "on"  # wsgiref then sets wsgi.url_scheme = "https": request.is_secure() is True
        return environ


class HttpsWSGIServer(ThreadedWSGIServer):
    """Django's threaded test server, TLS negotiated in each connection's thread (a stuck client blocks no one)."""

    def __init__(self, *args, ssl_context: ssl.SSLContext, **kwargs) -> None:
        self.ssl_context = ssl_context
        super().__init__(*args, **kwargs)

    def finish_request(self, request, client_address) -> None:
        try:
            request.settimeout(HANDSHAKE_TIMEOUT)
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except OSError as err:
            logger.debug("TLS handshake with %s failed: %s", client_address, err)
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()


class HttpsLiveServerThread(LiveServerThread):
    server_class = HttpsWSGIServer

    def __init__(self, certificate: trustme.LeafCert, *args, **kwargs) -> None:
        self.certificate = certificate
        super().__init__(*args, **kwargs)

    def _create_server(self, connections_override=None):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.certificate.configure_cert(context)
        return self.server_class(
            (self.host, self.port),
            HttpsRequestHandler,
            allow_reuse_address=False,
            connections_override=connections_override,
            ssl_context=context,
        )


class HttpsLiveServer:
    """The app on ``https://{host}:{port}``, listening on 127.0.0.1 (a free port); ``stop()`` when done."""

    def __init__(self, host: str, certificate: trustme.LeafCert) -> None:
        from django.conf import settings
        from django.db import connections

        if "django.contrib.staticfiles" in settings.INSTALLED_APPS:
            from django.contrib.staticfiles.handlers import StaticFilesHandler as static_handler
        else:
            from django.test.testcases import _StaticFilesHandler as static_handler
        shared = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}
        self.host = host
        self.thread = HttpsLiveServerThread(certificate, "127.0.0.1", static_handler, connections_override=shared)
        self.thread.daemon = True
        for connection in shared.values():
            connection.inc_thread_sharing()
        self.thread.start()
        self.thread.is_ready.wait()
        if self.thread.error:
            self.stop()
            raise self.thread.error

    @property
    def port(self) -> int:
        return self.thread.port

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def stop(self) -> None:
        self.thread.terminate()
        for connection in self.thread.connections_override.values():
            connection.dec_thread_sharing()

    def __repr__(self) -> str:
        return f"<HttpsLiveServer {self.url}>"


@pytest.fixture
def https_live_server_host() -> str:
    """The name the app is served under; override this fixture for another."""
    return "issuer.gathr.test"


@pytest.fixture
def https_live_server(request, transactional_db, simulator, resolver, settings, https_live_server_host):
    """The app over https (``.url``, ``.host``, ``.port``), reachable by that name from the simulator and the app."""
    if "microsoft" in request.fixturenames:
        request.getfixturevalue("microsoft")  # its reset of the simulator first, or it would forget the route
    host = https_live_server_host
    server = HttpsLiveServer(host, simulator.issue_server_certificate(host))
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]
    simulator.route_issuer(host, server.port)
    resolver.add(host, "127.0.0.1", server.port)
    yield server
    server.stop()
