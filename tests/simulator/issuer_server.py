"""A tiny external OpenID Connect issuer for the federation tests: discovery document and JWKS over TLS.

``IssuerServer(host, leaf_cert)`` serves ``/.well-known/openid-configuration`` and ``/jwks`` on 127.0.0.1 (a
free port) with a certificate for ``host``; its issuer is ``https://{host}:{port}``. It signs assertions with
RSA keys by kid (``sign(claims, kid)``), publishes only the kids it is told to, and can be made to misbehave:
``discovery_overrides`` (e.g. another ``issuer`` or an http ``jwks_uri``), ``answers`` (path -> (status,
headers)) and ``silent`` (read the request, never answer).
"""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks"


class IssuerServer:
    def __init__(self, host: str, certificate: trustme.LeafCert) -> None:
        self.host = host
        self.private_keys: dict[str, rsa.RSAPrivateKey] = {}
        self.published: list[str] = []
        self.discovery_overrides: dict = {}
        self.answers: dict[str, tuple[int, dict[str, str]]] = {}
        self.silent = threading.Event()
        self.stopping = threading.Event()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        certificate.configure_cert(context)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.url = f"https://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def add_key(self, kid: str, publish: bool = True) -> rsa.RSAPrivateKey:
        self.private_keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.append(kid)
        return self.private_keys[kid]

    def sign(self, claims: dict, kid: str, key: rsa.RSAPrivateKey | None = None) -> str:
        """RS256 with the key of ``kid`` (or ``key``, to forge), ``kid`` in the header."""
        return jwt.encode(claims, key or self.private_keys[kid], algorithm="RS256", headers={"kid": kid})

    def discovery(self) -> dict:
        return {
            "issuer": self.url,
            "jwks_uri": self.url + JWKS_PATH,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            **self.discovery_overrides,
        }

    def jwks(self) -> dict:
        keys = []
        for kid in self.published:
            entry = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_keys[kid].public_key()))
            keys.append({**entry, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}


def _handler_for(issuer: IssuerServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if issuer.silent.is_set():
                issuer.stopping.wait(10)
                return
            status, headers = issuer.answers.get(self.path, (200, {}))
            documents = {DISCOVERY_PATH: issuer.discovery, JWKS_PATH: issuer.jwks}
            if self.path not in documents:
                status = 404
            body = json.dumps(documents[self.path]()).encode() if status == 200 else b""
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args) -> None:
            pass

    return Handler
