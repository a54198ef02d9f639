"""Run inside a private network and mount namespace whose /etc/hosts points Microsoft's real host names at
127.0.0.1: the simulator listens on 443 and the app, unchanged, TESTs a connection with only
REQUESTS_CA_BUNDLE and OUTBOUND_ALLOWED_NETWORKS set. Prints the command's output; exits with its status."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from tests.simulator import Simulator  # noqa: E402

CREATE = """
from django.contrib.auth import get_user_model
from connections.models import Connection
owner = get_user_model().objects.create_superuser("ops", "ops@example.com", "x-unused-password-x")
connection = Connection(name="Contoso", client_id="{client_id}", url="https://contoso.crm.dynamics.com/",
                        azure_tenant="{tenant}", owner=owner)
connection.set_client_secret("{secret}")
connection.save()
# The Premium connector's gate (Connector Marketplace): TEST needs a trial or subscription.
from marketplace.entitlements import subscribe
from marketplace.models import Connector
subscribe(Connector.objects.get(slug="dynamics-crm"), owner)
"""


def main() -> int:
    with Simulator(port=443) as sim, tempfile.TemporaryDirectory() as folder:
        tenant = sim.add_tenant(domains=("contoso.onmicrosoft.com",))
        app = sim.add_app(tenant.tenant_id)
        secret = sim.add_secret(app.client_id)
        env = sim.add_environment("https://contoso.crm.dynamics.com/", tenant_id=tenant.tenant_id)
        sim.add_application_user(env.url, app.client_id)
        child_env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OUTBOUND_", "TEST_", "DATABASE_URL", "DJANGO_SETTINGS"))
        }
        child_env.update(
            REQUESTS_CA_BUNDLE=sim.ca_cert_path,
            OUTBOUND_ALLOWED_NETWORKS="127.0.0.1/32",
            DATABASE_URL=f"sqlite:///{folder}/db.sqlite3",
            SECRET_KEY="netns-test-" + "k" * 40,
            FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        )

        def manage(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [sys.executable, "manage.py", *args], cwd=ROOT, env=child_env, capture_output=True, text=True
            )

        manage("migrate", "--noinput", "-v0").check_returncode()
        script = CREATE.format(client_id=app.client_id, tenant=tenant.tenant_id, secret=secret.value)
        manage("shell", "-c", script).check_returncode()
        result = manage("test_connection", "Contoso")
        print(result.stdout, result.stderr, sep="\n")
        hosts = sorted({r.host for r in sim.requests})
        print("simulator saw:", ", ".join(hosts))
        return result.returncode


if __name__ == "__main__":
    sys.exit(main())
