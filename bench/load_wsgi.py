"""The app as bench/load.py serves it: the real settings; TEST reaches the local simulator instead of Microsoft.

Like a hosts file on the server: Microsoft's host names resolve to the simulator on 127.0.0.1 (its port in
LOAD_SIMULATOR_PORT), every other name fails. The bench trusts the simulator's CA with REQUESTS_CA_BUNDLE and
allows 127.0.0.1 with OUTBOUND_ALLOWED_NETWORKS, as an operator would.
"""

import os

from connections.dynamics import guard
from gathr_connector.wsgi import application
from tests.conftest import HostsResolver
from tests.simulator import SERVER_NAMES

hosts = HostsResolver()
for name in SERVER_NAMES:
    hosts.add(name, "127.0.0.1", int(os.environ["LOAD_SIMULATOR_PORT"]))
guard.resolver = hosts

__all__ = ["application"]
