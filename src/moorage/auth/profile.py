"""``moorage credentials``: the server's key as shell exports or as an AWS profile.

:func:`exports` prints what ``eval`` needs; :func:`write_profile` adds (or
replaces) one profile in ``~/.aws/credentials`` and ``~/.aws/config``
(``AWS_SHARED_CREDENTIALS_FILE`` / ``AWS_CONFIG_FILE`` are honoured, as
botocore does) whose ``services`` section points every service moorage
serves at the server, so ``AWS_PROFILE=NAME python deploy.py`` runs an
unchanged script against moorage. Only the profile's own sections are
written; every other line of both files is kept as it was, comments too.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from moorage.auth.keys import KeyPair

# botocore's service ids in the ``services`` section form (snake case).
SERVICES = (
    "sagemaker",
    "sagemaker_runtime",
    "cloudwatch",
    "cloudwatch_logs",
    "application_auto_scaling",
)
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class ProfileError(Exception):
    pass


@dataclass(frozen=True)
class ProfileFiles:
    credentials: Path
    config: Path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], home: Path) -> ProfileFiles:
        credentials = environ.get("AWS_SHARED_CREDENTIALS_FILE") or str(home / ".aws/credentials")
        config = environ.get("AWS_CONFIG_FILE") or str(home / ".aws/config")
        return cls(Path(credentials).expanduser(), Path(config).expanduser())


def exports(pair: KeyPair, region: str, url: str | None = None) -> str:
    """``export`` lines for a POSIX shell (and service endpoint URLs when ``url`` is given)."""
    values = {
        "AWS_ACCESS_KEY_ID": pair.access_key_id,
        "AWS_SECRET_ACCESS_KEY": pair.secret_access_key,
        "AWS_DEFAULT_REGION": region,
    }
    if url is not None:
        for service in SERVICES:
            values[f"AWS_ENDPOINT_URL_{service.upper()}"] = url
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in values.items())


def write_profile(files: ProfileFiles, name: str, pair: KeyPair, region: str, url: str) -> None:
    """Add or replace profile ``name`` in both files; nothing else in them changes."""
    if not _NAME.match(name) or name == "default":
        raise ProfileError(
            f"profile name {name!r} is not usable: letters, digits, '.', '_' and '-' "
            "(not 'default', which belongs to your own AWS keys)"
        )
    services = f"moorage-{name}"
    credentials_body = [
        f"aws_access_key_id = {pair.access_key_id}",
        f"aws_secret_access_key = {pair.secret_access_key}",
    ]
    config_sections = {
        f"profile {name}": [f"region = {region}", f"services = {services}"],
        f"services {services}": [
            line for service in SERVICES for line in (f"{service} =", f"  endpoint_url = {url}")
        ],
    }
    _rewrite(files.credentials, {name: credentials_body})
    _rewrite(files.config, config_sections)


def _rewrite(path: Path, sections: Mapping[str, Sequence[str]]) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise ProfileError(f"cannot read {path}: {exc.strerror}") from None
    updated = replace_sections(text, sections)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".moorage-tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(updated)
    os.replace(temporary, path)


def replace_sections(text: str, sections: Mapping[str, Sequence[str]]) -> str:
    """``text`` with each named INI section's body replaced (or the section appended)."""
    lines = text.splitlines()
    out: list[str] = []
    done: set[str] = set()
    skipping = False
    for line in lines:
        header = _section_name(line)
        if header is not None:
            skipping = header in sections
            if skipping:
                out.append(f"[{header}]")
                out.extend(sections[header])
                out.append("")
                done.add(header)
                continue
        if not skipping:
            out.append(line)
    for header, body in sections.items():
        if header in done:
            continue
        if out and out[-1].strip():
            out.append("")
        out.append(f"[{header}]")
        out.extend(body)
    return "\n".join(out).rstrip("\n") + "\n"


def _section_name(line: str) -> str | None:
    stripped = line.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        return " ".join(stripped[1:-1].split())
    return None
