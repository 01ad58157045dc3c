"""Access keys the server accepts, read from an AWS shared-credentials file.

On first start the server writes one key pair to ``<data dir>/credentials``
(mode 0600, the INI format of ``~/.aws/credentials``, section ``[default]``);
``moorage serve --credentials FILE`` reads a user's own file instead, and
every section's ``aws_access_key_id``/``aws_secret_access_key`` is accepted.
The file is read once at start; a changed file takes effect on restart.
"""

from __future__ import annotations

import configparser
import os
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CREDENTIALS_FILE = "credentials"
_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


class KeyFileError(Exception):
    """A credentials file that cannot be used; the message says why."""


@dataclass(frozen=True)
class KeyPair:
    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True)
class KeyRing:
    """Secret access keys by access key id."""

    secrets: Mapping[str, str]

    def secret_for(self, access_key_id: str) -> str | None:
        return self.secrets.get(access_key_id)

    @property
    def first(self) -> KeyPair:
        key_id = next(iter(self.secrets))
        return KeyPair(key_id, self.secrets[key_id])


def new_key_pair() -> KeyPair:
    """A fresh pair shaped like AWS's: a 20-character id and a 40-character secret."""
    key_id = "MOOR" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
    return KeyPair(key_id, secret)


def read_key_file(path: Path) -> KeyRing:
    """Every section's key pair in ``path``; :class:`KeyFileError` if none is usable."""
    parser = configparser.ConfigParser(interpolation=None, default_section="\0none")
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise KeyFileError(f"cannot read credentials file {path}: {exc.strerror}") from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        first_line = str(exc).splitlines()[0]
        raise KeyFileError(f"credentials file {path} is not an INI file: {first_line}") from None
    found: dict[str, str] = {}
    for name in parser.sections():
        section = parser[name]
        key_id = section.get("aws_access_key_id", "").strip()
        secret = section.get("aws_secret_access_key", "").strip()
        if key_id and secret:
            found.setdefault(key_id, secret)
    if not found:
        raise KeyFileError(
            f"credentials file {path} has no section with both aws_access_key_id "
            "and aws_secret_access_key"
        )
    return KeyRing(found)


def ensure_key_file(data_dir: Path) -> Path:
    """``<data dir>/credentials``, written with a new key pair if it does not exist."""
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        return path
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    pair = new_key_pair()
    text = (
        "# moorage's access key: the server accepts requests signed with it.\n"
        "[default]\n"
        f"aws_access_key_id = {pair.access_key_id}\n"
        f"aws_secret_access_key = {pair.secret_access_key}\n"
    )
    # O_EXCL: two servers racing on a new data dir never mix two keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
