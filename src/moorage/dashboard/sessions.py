"""Dashboard sessions: random tokens, kept in memory on the server, with expiry.

A login (:mod:`moorage.dashboard.login`) makes a session and hands its token
to the browser in a cookie (:mod:`moorage.dashboard.cookies`). The table
keeps only the SHA-256 of each token, so a token cannot be read back from the
server's memory, and a lookup compares digests, not the secret itself.

A session ends when it has not been used for :data:`IDLE_SECONDS` (the
dashboard polls every few seconds, so an open tab keeps it alive), when it is
:data:`MAX_AGE_SECONDS` old whatever its use, at logout, and when the server
stops (nothing is written to disk). At most :data:`MAX_SESSIONS` live at
once; a new one pushes out the least recently used. Time is a monotonic
clock, injected for tests.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

IDLE_SECONDS = 3600.0
MAX_AGE_SECONDS = 12 * 3600.0
MAX_SESSIONS = 256
# 32 random bytes: 256 bits, URL-safe base64 in the cookie.
TOKEN_BYTES = 32


@dataclass(frozen=True)
class Session:
    access_key_id: str
    created: float
    last_used: float


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


class SessionTable:
    def __init__(
        self,
        *,
        now: Callable[[], float] = time.monotonic,
        idle_s: float = IDLE_SECONDS,
        max_age_s: float = MAX_AGE_SECONDS,
        capacity: int = MAX_SESSIONS,
    ) -> None:
        self._now = now
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self.capacity = capacity
        # Least recently used first.
        self._sessions: OrderedDict[bytes, Session] = OrderedDict()

    def open(self, access_key_id: str) -> str:
        """A new session for the holder of ``access_key_id``; returns its token."""
        self._expire()
        while len(self._sessions) >= self.capacity:
            self._sessions.popitem(last=False)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._now()
        self._sessions[_digest(token)] = Session(access_key_id, now, now)
        return token

    def touch(self, token: str) -> Session | None:
        """The live session of ``token`` (its use noted), or None."""
        key = _digest(token)
        found = self._sessions.get(key)
        if found is None:
            return None
        now = self._now()
        if self._expired(found, now):
            del self._sessions[key]
            return None
        found = replace(found, last_used=now)
        self._sessions[key] = found
        self._sessions.move_to_end(key)
        return found

    def close(self, token: str) -> bool:
        """End the session of ``token``; whether there was one."""
        return self._sessions.pop(_digest(token), None) is not None

    def __len__(self) -> int:
        self._expire()
        return len(self._sessions)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.last_used >= self.idle_s or now - session.created >= self.max_age_s

    def _expire(self) -> None:
        now = self._now()
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[key]
