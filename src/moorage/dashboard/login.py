"""``POST /ui/login`` and ``POST /ui/logout``: sessions from the server's access key.

The login page posts a form (``application/x-www-form-urlencoded``) with
``access_key_id`` and ``secret_access_key``: a key the server accepts for
signatures (``<data dir>/credentials`` or ``--credentials``,
:mod:`moorage.auth.keys`). Each attempt first passes the rate limit
(:mod:`moorage.dashboard.login_limit`; 429 ``ThrottlingException`` with
``Retry-After``), then the secret is compared in constant time. A right key
opens a session (:mod:`moorage.dashboard.sessions`) and sets its cookie
(:mod:`moorage.dashboard.cookies`); a wrong one answers 401 without saying
which half was wrong. A malformed form is 400 ``ValidationException``.
Logout ends the request's session, if any, and clears the cookie.
"""

from __future__ import annotations

import hmac
import logging
import urllib.parse

from moorage.api.http import (
    BodyTooLarge,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    header_map,
    read_body,
)
from moorage.auth.keys import KeyRing
from moorage.dashboard.cookies import clear_cookie, session_token, set_cookie
from moorage.dashboard.login_limit import LoginLimiter
from moorage.dashboard.responses import send_error, send_json
from moorage.dashboard.sessions import SessionTable

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 4096
FORM_TYPE = "application/x-www-form-urlencoded"
FIELDS = ("access_key_id", "secret_access_key")
# Compared against when the key id is unknown, so that both answers take as long.
_DECOY = "0" * 40


class FormError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_form(body: bytes) -> dict[str, str]:
    """The login form's two fields; :class:`FormError` says what is wrong."""
    try:
        text = body.decode("utf-8")
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=8
        )
    except (UnicodeDecodeError, ValueError):
        raise FormError("The login form is not a valid URL-encoded UTF-8 form.") from None
    found: dict[str, str] = {}
    for name, value in pairs:
        if name not in FIELDS:
            continue
        if name in found:
            raise FormError(f"The login form names {name} more than once.")
        found[name] = value
    missing = [name for name in FIELDS if not found.get(name)]
    if missing:
        raise FormError("The login form needs " + " and ".join(missing) + ".")
    return found


class Login:
    def __init__(self, keys: KeyRing, sessions: SessionTable, limiter: LoginLimiter) -> None:
        self.keys = keys
        self.sessions = sessions
        self.limiter = limiter

    async def login(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        declared = header_map(scope).get("content-type", "").partition(";")[0].strip().lower()
        try:
            body = await read_body(receive, MAX_FORM_BYTES)
        except BodyTooLarge:
            await send_error(send, 413, "ValidationException", "The login form is too large.")
            return
        except ClientDisconnected:
            return
        wait = self.limiter.attempt(address)
        if wait is not None:
            log.warning("dashboard login attempts from %s are over the limit", address)
            await send_error(
                send,
                429,
                "ThrottlingException",
                f"Too many login attempts; try again in {wait:g} seconds.",
                extra=[(b"retry-after", str(int(wait)).encode())],
            )
            return
        if declared != FORM_TYPE:
            await send_error(
                send, 400, "ValidationException", f"The login form is sent as {FORM_TYPE}."
            )
            return
        try:
            form = parse_form(body)
        except FormError as exc:
            await send_error(send, 400, "ValidationException", exc.message)
            return
        key_id = form["access_key_id"]
        if not self._matches(key_id, form["secret_access_key"]):
            log.info("dashboard login refused from %s", address)
            await send_error(
                send,
                401,
                "UnrecognizedClientException",
                "The access key ID or secret access key is not valid.",
            )
            return
        token = self.sessions.open(key_id)
        await send_json(send, {"signedIn": True}, extra=[(b"set-cookie", set_cookie(scope, token))])

    def _matches(self, key_id: str, secret: str) -> bool:
        expected = self.keys.secret_for(key_id)
        given = secret.encode("utf-8", "surrogateescape")
        if expected is None:
            hmac.compare_digest(_DECOY.encode(), given)
            return False
        return hmac.compare_digest(expected.encode("utf-8"), given)

    async def logout(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await read_body(receive, MAX_FORM_BYTES)
        except BodyTooLarge:
            pass
        except ClientDisconnected:
            return
        token = session_token(scope)
        if token is not None:
            self.sessions.close(token)
        await send_json(send, {"signedIn": False}, extra=[(b"set-cookie", clear_cookie(scope))])
