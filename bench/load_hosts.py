"""Like a hosts file on the server, for bench/load.py: Microsoft's names resolve to the local simulator.

The web server (bench/load_wsgi.py) and the TEST worker (bench/load_worker.py) both call it, so a TEST reaches the
simulator wherever it runs. The simulator listens on 127.0.0.1 (its port in LOAD_SIMULATOR_PORT); every other name
fails. The bench trusts the simulator's CA with REQUESTS_CA_BUNDLE and allows 127.0.0.1 with
OUTBOUND_ALLOWED_NETWORKS, as an operator would.
"""

import os

from connections.dynamics import guard
from tests.helpers import HostsResolver
from tests.simulator import SERVER_NAMES


def send_microsoft_to_simulator() -> None:
    hosts = HostsResolver()
    for name in SERVER_NAMES:
        hosts.add(name, "127.0.0.1", int(os.environ["LOAD_SIMULATOR_PORT"]))
    guard.resolver = hosts
