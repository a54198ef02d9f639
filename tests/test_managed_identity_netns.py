"""A managed-identity TEST passes at msal's default IMDS address, 169.254.169.254:80, with nothing overridden.

A private network and mount namespace (unshare, as root) puts 169.254.169.254 on its loopback device, where the
simulator's IMDS listens, and an /etc/hosts pointing Microsoft's real host names at 127.0.0.1; only 127.0.0.1/32 is
allowed. The client layer runs (tests/netns/managed_identity.py) while the Django model for this credential lands.
"""

import subprocess
import sys

from tests.test_real_hostnames import ROOT, namespace_hosts  # noqa: F401 - the fixture (root, unshare, ip; CI fails)


def test_a_managed_identity_test_passes_at_the_real_imds_address(namespace_hosts):  # noqa: F811
    namespace_hosts.write_text(
        "127.0.0.1 localhost\n127.0.0.1 login.microsoftonline.com contoso.crm.dynamics.com\n"
        "169.254.169.254 metadata.crm.dynamics.com\n"
    )
    script = (
        "ip link set lo up && ip addr add 169.254.169.254/32 dev lo && "
        f"mount --bind {namespace_hosts} /etc/hosts && "
        f"exec {sys.executable} {ROOT / 'tests' / 'netns' / 'managed_identity.py'}"
    )
    run = subprocess.run(
        ["unshare", "--mount", "--net", "sh", "-c", script], capture_output=True, text=True, timeout=120
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "endpoint: IMDS at http://169.254.169.254\n" in output
    assert "managed identity: ok: Connection available" in output
    assert "managed identity, URL aimed at IMDS: outbound_blocked" in output
    assert "client secret, URL aimed at IMDS: outbound_blocked" in output
    assert "IMDS requests: 1 (after the first TEST: 1)" in output
