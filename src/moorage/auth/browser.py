"""The rules that keep web pages away from moorage's API, in every auth mode.

A web page can make a browser send requests to ``127.0.0.1:8484`` (a form
POST needs no permission), or rebind its own host name to the server's
address (DNS rebinding) so that its scripts read the answers. Two checks,
made before anything else, refuse both:

- **Host**: the request's ``Host`` must be a loopback name or address
  (``localhost``, ``*.localhost``, ``127.0.0.0/8``, ``::1``), an IP address
  literal (a rebound *name* is what an attacker controls; an address literal
  is the server's own), or a name given with ``--allowed-host`` (``*``
  allows any).
- **Origin**: a request that carries an ``Origin`` header, or
  ``Sec-Fetch-Site: cross-site`` / ``same-site``, comes from a web page; it
  is refused unless the origin is the server's own (same scheme-less
  host and port as ``Host``) or given with ``--allowed-origin``.

boto3, the AWS CLI and the SageMaker SDK send neither header, so they are
never affected.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class BrowserRefusal(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class BrowserRules:
    allowed_hosts: frozenset[str] = frozenset()
    allowed_origins: frozenset[str] = frozenset()

    @classmethod
    def of(cls, hosts: Iterable[str], origins: Iterable[str]) -> BrowserRules:
        return cls(
            frozenset(h.strip().lower().rstrip(".") for h in hosts),
            frozenset(o.strip().lower().rstrip("/") for o in origins),
        )

    def check(self, host: str | None, origin: str | None, fetch_site: str | None) -> None:
        """Nothing if the request may proceed, else :class:`BrowserRefusal`."""
        name = host_name(host or "")
        if not self._host_allowed(name):
            raise BrowserRefusal(
                f"Host '{_clip(host or '')}' is not allowed: moorage answers requests "
                "addressed to a loopback name or address, an IP address, or a name given "
                "with --allowed-host (this protects against DNS rebinding)."
            )
        if origin is not None:
            if self._origin_allowed(origin, host or ""):
                return
            raise BrowserRefusal(
                f"Origin '{_clip(origin)}' is not allowed: requests from web pages are "
                "refused unless their origin is given with --allowed-origin."
            )
        if fetch_site is not None and fetch_site.lower() in ("cross-site", "same-site"):
            raise BrowserRefusal(
                f"Requests from other sites (Sec-Fetch-Site: {_clip(fetch_site)}) are refused."
            )

    def _host_allowed(self, name: str) -> bool:
        if not name:
            return False
        if "*" in self.allowed_hosts or name in self.allowed_hosts:
            return True
        return _local_or_literal(name)

    def _origin_allowed(self, origin: str, host: str) -> bool:
        normalized = origin.strip().lower().rstrip("/")
        if "*" in self.allowed_origins or normalized in self.allowed_origins:
            return True
        # The server's own pages: same host and port as the request's Host.
        _, sep, authority = normalized.partition("://")
        return bool(sep) and authority == host.strip().lower()


@functools.lru_cache(maxsize=256)
def _local_or_literal(name: str) -> bool:
    """A loopback name or any IP address literal (the same few Hosts arrive again and again)."""
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_name(host: str) -> str:
    """The name or address in a ``Host`` header, without port or brackets."""
    text = host.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        return text[1:end] if end > 0 else ""
    if text.count(":") > 1:
        return text  # a bare IPv6 address
    return text.partition(":")[0].rstrip(".")


def is_loopback(address: str) -> bool:
    """Whether a bind address is loopback only (``127.0.0.1``, ``::1``, ``localhost``)."""
    name = host_name(address) if not address.count(":") > 1 else address.strip("[]")
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _clip(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "..."
