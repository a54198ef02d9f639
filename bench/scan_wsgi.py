"""The app as bench/scan.py serves it to the scanner: the real settings, with the outbound guard shut.

The scanner types arbitrary URLs into the connection form and clicks TEST; shut, the guard resolves no name
and refuses every address, so that no request of the app leaves this machine during a scan.
"""

import socket

from connections.dynamics import guard
from connections.dynamics.errors import OutboundBlockedError
from gathr_connector.wsgi import application


class NoNames:
    def resolve(self, host: str, port: int) -> list:
        raise socket.gaierror(socket.EAI_NONAME, "the scan resolves no name")


def refuse_every_address(host: str, ip) -> None:
    raise OutboundBlockedError(host, str(ip), "an address (every outbound connection is refused during a scan)")


guard.resolver = NoNames()
guard.check_address = refuse_every_address

__all__ = ["application"]
