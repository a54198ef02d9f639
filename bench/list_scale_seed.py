"""The rows of bench/list_scale.py: `size` connections in a realistic mix, inserted with bulk_create.

Owners: an administrator, the plain user the bench signs in as (every tenth row, and the three Northwind ones) and up
to 40 others; a fifth of the rows shared with the organization; about one in seven on-premises (CRM2011+, http URL,
no tenant); a third never tested. Every name carries one of the companies below: "Contoso" is in many rows,
"Northwind" in exactly three at every size (the two searches). The secret is encrypted once and its ciphertext shared
by every row.
"""

import datetime as dt
import random

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from connections import crypto
from connections.models import Connection, CrmVersion, Scope

COMPANIES = ("Contoso", "Fabrikam", "Adventure Works", "Tailspin", "Wingtip", "Litware", "Proseware", "Coho")
DEPARTMENTS = ("Sales", "HR", "Finance", "Support", "Marketing", "Field Service", "Legal", "Operations")
FEW = "Northwind"
MANY = "Contoso"
PLAIN_USERNAME = "maria"
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def people(size: int) -> tuple:
    """The administrator, the plain user, and the other owners (users' names in mixed case, as people type them)."""
    User = get_user_model()
    password = make_password(None)
    admin = User.objects.create(username="admin", password=password, is_superuser=True, is_staff=True)
    plain = User.objects.create(username=PLAIN_USERNAME, password=password)
    others = User.objects.bulk_create(
        User(username=f"{'Owner' if i % 2 else 'owner'}-{i:02d}", password=password) for i in range(min(size, 40))
    )
    return admin, plain, others


def connection(number: int, size: int, owner, secret: str, rng: random.Random) -> Connection:
    company = FEW if is_few(number, size) else COMPANIES[rng.randrange(len(COMPANIES))]
    department = DEPARTMENTS[number % len(DEPARTMENTS)]
    slug = f"{company.lower().replace(' ', '')}-{department.lower().replace(' ', '')}{number}"
    on_premises = rng.random() < 0.15
    tested = rng.random() > 0.33
    return Connection(
        name=f"{company} {department} {number}",
        client_id="" if on_premises else "51f81489-12ee-4a9e-aaae-a2591f45987d",
        url=f"http://crm.{slug}.local/{department.replace(' ', '')}/"
        if on_premises
        else f"https://{slug}.crm4.dynamics.com/",
        crm_version=CrmVersion.CRM_2011 if on_premises else CrmVersion.CRM_ONLINE,
        azure_tenant="" if on_premises else f"{company.lower().replace(' ', '')}{number % 50}.onmicrosoft.com",
        client_secret_encrypted="" if on_premises else secret,
        scope=Scope.ORGANIZATION if rng.random() < 0.2 else Scope.PRIVATE,
        owner=owner,
        last_test_status=("available" if rng.random() < 0.8 else "unavailable") if tested else "",
        last_tested_at=NOW - dt.timedelta(seconds=rng.randrange(90 * 86400)) if tested else None,
    )


def is_few(number: int, size: int) -> bool:
    return number in {size // 4, size // 2, 3 * size // 4}


def mine(number: int, size: int) -> bool:
    """The plain user's rows: every tenth, and the Northwind ones (so that their search finds rows at every size)."""
    return number % 10 == 0 or is_few(number, size)


def seed(size: int) -> tuple:
    """Insert the users and `size` connections; return the administrator and the plain user."""
    admin, plain, others = people(size)
    owners = [admin, *others]
    secret = crypto.encrypt("bench-secret-value")
    rng = random.Random(size)
    rows = (
        connection(number, size, plain if mine(number, size) else owners[number % len(owners)], secret, rng)
        for number in range(size)
    )
    Connection.objects.bulk_create(rows, batch_size=2000)
    return admin, plain
