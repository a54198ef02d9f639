"""The managed-identity part of the :class:`~.simulator.Simulator` API, as a mixin.

``sim.add_managed_identity(tenant_id, user_assigned=False, name="...")`` registers an identity's service principal;
``sim.start_managed_identity_endpoint(kind="imds" | "app_service")`` serves "this machine's" endpoint (plain HTTP,
its own thread, stopped with the simulator), whose ``assign(identity)`` attaches the identity to it.
"""

from __future__ import annotations

from .knobs import Knobs
from .managed_identity import ManagedIdentityEndpoint, ManagedIdentityPrincipal
from .server import RequestLog
from .state import Directory


class IdentityApi:
    directory: Directory
    log: RequestLog
    knobs: Knobs
    _managed_identity_endpoints: list[ManagedIdentityEndpoint]

    def add_managed_identity(
        self, tenant_id, user_assigned: bool = False, name: str = "contoso-connector"
    ) -> ManagedIdentityPrincipal:
        """A managed identity of the tenant: ``.client_id``, ``.object_id`` and (user-assigned) ``.resource_id``."""
        tenant = self.directory._tenant(tenant_id)
        return ManagedIdentityPrincipal(tenant.tenant_id, name, user_assigned)

    def start_managed_identity_endpoint(
        self, kind: str = "imds", host: str = "127.0.0.1", port: int = 0
    ) -> ManagedIdentityEndpoint:
        """Serve an IMDS or App Service managed-identity endpoint on ``host:port`` (0 = a free port)."""
        endpoint = ManagedIdentityEndpoint(self.directory, self.log, self.knobs, kind, host, port)
        self.__dict__.setdefault("_managed_identity_endpoints", []).append(endpoint)
        return endpoint

    def stop_managed_identity_endpoints(self) -> None:
        for endpoint in self.__dict__.pop("_managed_identity_endpoints", []):
            endpoint.stop()
