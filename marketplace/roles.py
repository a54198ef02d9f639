"""Organization administrators: superusers and holders of the marketplace's one custom permission.

They start trials, subscribe and unsubscribe, and see and manage every connection. The permission is spelled
here only; the migration that made the "Organization administrators" group names its codename too.
"""

CODENAME = "manage_connectors"
MANAGE_CONNECTORS = f"marketplace.{CODENAME}"


def is_administrator(user) -> bool:
    return user.is_authenticated and user.is_active and user.has_perm(MANAGE_CONNECTORS)
