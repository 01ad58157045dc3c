"""Which dashboard requests a browser may make without a signature.

The port's gate (:mod:`moorage.api.gate`) asks :meth:`BrowserAccess.admits`
only about a request that carries no ``Authorization`` header at all, after
the Host and Origin rules passed. Admitted without a session: ``GET /`` (the
handler answers the login page unless the session is live), the login
page's script and style, and ``POST`` to the login and logout paths (a
cross-site POST never gets here: the Origin rules refuse it). Admitted with
a live session: every other ``GET`` under ``/ui/``. Nothing else: a session
cookie never stands in for a signature on the AWS APIs, the runtime, or
moorage's other pages.
"""

from __future__ import annotations

from moorage.api.http import Scope
from moorage.dashboard.cookies import session_token
from moorage.dashboard.sessions import SessionTable

ROOT = "/"
PREFIX = "/ui/"
LOGIN = "/ui/login"
LOGOUT = "/ui/logout"
STATIC = "/ui/static/"
API = "/ui/api/"
# What the login page needs before there is a session.
PUBLIC_ASSETS = frozenset(STATIC + name for name in ("login.js", "dashboard.css", "favicon.svg"))
_READ = ("GET", "HEAD")


class BrowserAccess:
    def __init__(self, sessions: SessionTable) -> None:
        self.sessions = sessions

    def admits(self, scope: Scope) -> bool:
        path: str = scope["path"]
        method: str = scope["method"]
        if path == ROOT:
            return method in _READ
        if not path.startswith(PREFIX):
            return False
        if method == "POST":
            return path in (LOGIN, LOGOUT)
        if method not in _READ:
            return False
        return path in PUBLIC_ASSETS or self.signed_in(scope)

    def signed_in(self, scope: Scope) -> bool:
        """Whether the request carries this server's cookie of a live session."""
        token = session_token(scope)
        return token is not None and self.sessions.touch(token) is not None
