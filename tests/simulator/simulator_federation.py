"""Workload identity federation in the :class:`~.simulator.Simulator` API, as a mixin.

An app trusts an external OpenID Connect issuer; the client signs a JWT as that issuer and sends it as
``client_assertion``; Entra fetches the issuer's keys over https and gives an ordinary app-only token::

    sim.add_federated_credential(app.client_id, "https://issuer.gathr.test", "connection:42")
    leaf = sim.issue_server_certificate("issuer.gathr.test")    # serve discovery + JWKS with it
    sim.route_issuer("issuer.gathr.test", port)                 # where "issuer.gathr.test" is, for Entra
    msal.ConfidentialClientApplication(app.client_id, client_credential={"client_assertion": sign}, ...)

The checks and their AADSTS codes are in :mod:`.federation`, the fetch and its cache in :mod:`.oidc_issuers`.
"""

from __future__ import annotations

import trustme

from .federation import MAX_FEDERATED_CREDENTIALS, TOKEN_EXCHANGE_AUDIENCE, FederatedCredential
from .oidc_issuers import IssuerFetch, OidcIssuers
from .state import Directory


class FederationApi:
    directory: Directory
    ca: trustme.CA
    issuers: OidcIssuers

    def add_federated_credential(
        self,
        client_id,
        issuer: str,
        subject: str,
        audiences=(TOKEN_EXCHANGE_AUDIENCE,),
        name: str | None = None,
        description: str = "",
    ) -> FederatedCredential:
        """Trust tokens of ``issuer`` (matched as an exact string) about ``subject`` for one of ``audiences``.

        At most 20 per app and one (issuer, subject) pair once, as Graph refuses more; ``name`` is unique per app
        (default ``federated-credential-N``).
        """
        with self.directory._lock:
            app = self.directory._app(client_id)
            credentials = app.federated_credentials
            if len(credentials) >= MAX_FEDERATED_CREDENTIALS:
                raise ValueError(f"an application has at most {MAX_FEDERATED_CREDENTIALS} federated credentials")
            if any(c.issuer == issuer and c.subject == subject for c in credentials):
                raise ValueError(f"the app already trusts issuer {issuer!r} for subject {subject!r}")
            name = name or f"federated-credential-{len(credentials) + 1}"
            if any(c.name == name for c in credentials):
                raise ValueError(f"the app already has a federated credential named {name!r}")
            if not issuer or not subject or not audiences:
                raise ValueError("issuer, subject and audiences are required")
            credential = FederatedCredential(name, issuer, subject, tuple(audiences), description)
            credentials.append(credential)
        return credential

    def federated_credentials(self, client_id) -> list[FederatedCredential]:
        with self.directory._lock:
            return list(self.directory._app(client_id).federated_credentials)

    def remove_federated_credential(self, client_id, name: str) -> None:
        with self.directory._lock:
            app = self.directory._app(client_id)
            app.federated_credentials = [c for c in app.federated_credentials if c.name != name]

    def route_issuer(self, host: str, port: int, ip: str = "127.0.0.1") -> None:
        """Let Entra reach the issuer host ``host`` at ``ip:port`` (any URL port); unrouted hosts are unreachable."""
        self.issuers.route(host, port, ip)

    def trust_issuer_ca(self, ca_file: str) -> None:
        """Trust another CA (PEM file) for issuers' certificates, besides the simulator's own."""
        self.issuers.trust_ca_file(ca_file)

    def issue_server_certificate(self, *hostnames: str) -> trustme.LeafCert:
        """A TLS server certificate from the simulator's CA: trusted by the simulator's issuer fetch and, with
        ``REQUESTS_CA_BUNDLE=sim.ca_cert_path``, by requests."""
        return self.ca.issue_cert(*hostnames)

    @property
    def federation_cache_seconds(self) -> float:
        """How long (simulator clock) an issuer's discovery document and keys are reused; 0 = fetch every time."""
        return self.issuers.cache_seconds

    @federation_cache_seconds.setter
    def federation_cache_seconds(self, seconds: float) -> None:
        self.issuers.cache_seconds = float(seconds)

    @property
    def federation_fetch_timeout(self) -> float:
        """Seconds for each connect and read of an issuer fetch (5 by default)."""
        return self.issuers.timeout

    @federation_fetch_timeout.setter
    def federation_fetch_timeout(self, seconds: float) -> None:
        self.issuers.timeout = float(seconds)

    @property
    def issuer_fetches(self) -> list[IssuerFetch]:
        """Every GET to an external issuer so far (``.url``, ``.status``: None if no answer, ``.error``)."""
        with self.issuers._lock:
            return list(self.issuers.fetches)
