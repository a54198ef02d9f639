"""Run by bench/load.py in `manage.py shell`: the clients' users and the ones whose passwords they mistype.

The password is hashed once for all of them (the default hasher costs most of a second per user).
"""

import json
import os

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

people = json.loads(os.environ["LOAD_PEOPLE"])
password = make_password(people[0]["password"])
User = get_user_model()
for person in people:
    admin = person["is_admin"]
    name = person["username"]
    User.objects.create(
        username=name, email=f"{name}@example.com", password=password, is_superuser=admin, is_staff=admin
    )
    User.objects.create(username=person["mistyped_username"], password=password)
