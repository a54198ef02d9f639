"""The app passes unchanged when Microsoft's real host names resolve to a simulator on loopback.

A private network and mount namespace (unshare, as root) gets an /etc/hosts that points
login.microsoftonline.com and contoso.crm.dynamics.com at 127.0.0.1; the simulator listens on 443;
the app's own resolver (getaddrinfo) is used, with only REQUESTS_CA_BUNDLE and
OUTBOUND_ALLOWED_NETWORKS=127.0.0.1/32 set.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import in_ci

ROOT = Path(__file__).resolve().parents[1]


def can_unshare() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return False
    probe = subprocess.run(["unshare", "--mount", "--net", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.fixture
def namespace_hosts(tmp_path):
    if not can_unshare():
        if in_ci():
            pytest.fail("CI runs as root with unshare and ip: this test must run there.")
        pytest.skip("needs root, unshare and ip (network namespaces)")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.0.1 login.microsoftonline.com contoso.crm.dynamics.com\n")
    return hosts


def test_test_passes_with_real_host_names_pointed_at_the_simulator(namespace_hosts):
    script = (
        f"ip link set lo up && mount --bind {namespace_hosts} /etc/hosts && "
        f"exec {sys.executable} {ROOT / 'tests' / 'netns' / 'real_names.py'}"
    )
    run = subprocess.run(
        ["unshare", "--mount", "--net", "sh", "-c", script], capture_output=True, text=True, timeout=120
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Connection available" in output
    assert "login.microsoftonline.com" in output and "contoso.crm.dynamics.com" in output
