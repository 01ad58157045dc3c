"""The dashboard's session cookie: its name, reading it, and setting or clearing it.

Browsers send a host's cookies to every port of that host, so the name
carries the server's port (``moorage-session-8484``): two servers on one
machine keep their sessions apart. The cookie is ``HttpOnly`` (page scripts
never see it), ``SameSite=Strict`` (never sent with a request another site
starts), ``Path=/``, and ``Secure`` when the server speaks HTTPS. It has no
``Max-Age``: it ends with the browser, and the server ends it sooner
(:mod:`moorage.dashboard.sessions`).
"""

from __future__ import annotations

from moorage.api.http import Scope

PREFIX = "moorage-session"
# A token is 43 URL-safe characters; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 128


def cookie_name(scope: Scope) -> str:
    server = scope.get("server")
    port = server[1] if server and len(server) > 1 and server[1] is not None else None
    return f"{PREFIX}-{port}" if port is not None else PREFIX


def session_token(scope: Scope) -> str | None:
    """The value of this server's session cookie in the request, if it has one."""
    name = cookie_name(scope).encode()
    raw_name: bytes
    raw_value: bytes
    for raw_name, raw_value in scope["headers"]:
        if raw_name.lower() != b"cookie" or name not in raw_value:
            continue
        for part in raw_value.split(b";"):
            key, sep, value = part.strip().partition(b"=")
            if sep and key == name and 0 < len(value) <= MAX_TOKEN_LENGTH:
                return value.decode("latin-1")
    return None


def set_cookie(scope: Scope, token: str) -> bytes:
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    return f"{cookie_name(scope)}={token}; Path=/; HttpOnly; SameSite=Strict{secure}".encode()


def clear_cookie(scope: Scope) -> bytes:
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    return (f"{cookie_name(scope)}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}").encode()
