"""The app as bench/load.py serves it: the real settings; TEST reaches the local simulator instead of Microsoft
(bench/load_hosts.py)."""

from bench.load_hosts import send_microsoft_to_simulator
from gathr_connector.wsgi import application

send_microsoft_to_simulator()

__all__ = ["application"]
