"""The TEST worker as bench/load.py runs it: `manage.py run_huey` with the real settings, its TESTs reaching the
local simulator as the web server's do (bench/load_hosts.py).

    .venv/bin/python -m bench.load_worker      # from the project's folder, with bench/load.py's environment
"""

import os

import django
from django.core.management import call_command

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathr_connector.settings")
    django.setup()
    from bench.load_hosts import send_microsoft_to_simulator  # the app's modules load once Django is set up

    send_microsoft_to_simulator()
    call_command("run_huey")
