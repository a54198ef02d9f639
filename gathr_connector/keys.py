"""Development keys kept in an ignored local folder, so a fresh checkout runs without setup."""

import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

logger = logging.getLogger("gathr_connector.settings")


def local_key(path: Path, make) -> str:
    """Return the key stored at `path`, creating it (owner-only) the first time."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    logger.warning(
        "No %s configured: generated a development key in %s. Set it in the environment for production.",
        path.stem.upper(),
        path,
    )
    return key


def new_secret_key() -> str:
    return secrets.token_urlsafe(50)


def new_fernet_key() -> str:
    return Fernet.generate_key().decode()
