"""The dashboard's session table, login limiter, cookie and form parsing, and path rules."""

from __future__ import annotations

from typing import Any

import pytest

from moorage.dashboard.access import BrowserAccess
from moorage.dashboard.cookies import clear_cookie, session_token, set_cookie
from moorage.dashboard.login import FormError, parse_form
from moorage.dashboard.login_limit import LoginLimiter
from moorage.dashboard.sessions import SessionTable


class Ticks:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def scope(
    path: str = "/", method: str = "GET", cookie: str | None = None, scheme: str = "http"
) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1:8484")]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    return {
        "path": path,
        "method": method,
        "headers": headers,
        "server": ("127.0.0.1", 8484),
        "scheme": scheme,
    }


def test_sessions_expire_when_idle_or_old_and_end_at_close() -> None:
    now = Ticks()
    table = SessionTable(now=now, idle_s=60, max_age_s=300, capacity=3)
    token = table.open("MOORKEY")
    assert len(token) >= 43 and table.touch(token) is not None
    assert table.touch(token + "x") is None
    now.value += 59
    assert table.touch(token) is not None  # use keeps it alive...
    for _ in range(5):
        now.value += 59
        table.touch(token)
    assert table.touch(token) is None  # ...but not past its maximum age
    idle = table.open("MOORKEY")
    now.value += 60
    assert table.touch(idle) is None
    closed = table.open("MOORKEY")
    assert table.close(closed) and table.touch(closed) is None and not table.close(closed)


def test_the_least_recently_used_session_makes_room() -> None:
    table = SessionTable(now=Ticks(), capacity=2)
    first, second = table.open("K"), table.open("K")
    table.touch(first)
    third = table.open("K")
    assert table.touch(second) is None
    assert table.touch(first) is not None and table.touch(third) is not None
    assert len(table) == 2


def test_login_attempts_are_limited_per_address_and_overall() -> None:
    now = Ticks()
    limiter = LoginLimiter(now=now, window_s=60, per_address=3, overall=5)
    assert [limiter.attempt("a") for _ in range(3)] == [None, None, None]
    wait = limiter.attempt("a")
    assert wait is not None and 1 <= wait <= 60
    assert limiter.attempt("b") is None and limiter.attempt("c") is None
    assert limiter.attempt("d") is not None  # five in the window, from anywhere
    now.value += 61
    assert limiter.attempt("a") is None


def test_the_cookie_is_named_by_port_and_carries_its_attributes() -> None:
    plain = set_cookie(scope(), "tok").decode()
    assert plain == "moorage-session-8484=tok; Path=/; HttpOnly; SameSite=Strict"
    assert set_cookie(scope(scheme="https"), "tok").decode().endswith("; Secure")
    assert "Max-Age=0" in clear_cookie(scope()).decode()
    assert session_token(scope(cookie="a=1; moorage-session-8484=tok; b=2")) == "tok"
    assert session_token(scope(cookie="moorage-session-9999=tok")) is None
    assert session_token(scope(cookie="moorage-session-8484=")) is None
    assert session_token(scope(cookie="moorage-session-8484=" + "x" * 500)) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"access_key_id=a", "needs secret_access_key"),
        (b"secret_access_key=b", "needs access_key_id"),
        (b"access_key_id=a&access_key_id=b&secret_access_key=c", "more than once"),
        (b"\xff", "not a valid"),
        (b"", "needs access_key_id and secret_access_key"),
    ],
)
def test_malformed_login_forms_say_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(FormError) as caught:
        parse_form(body)
    assert message in caught.value.message


def test_a_login_form_with_extra_fields() -> None:
    assert parse_form(b"access_key_id=K%2B&secret_access_key=s%2Fx&remember=1") == {
        "access_key_id": "K+",
        "secret_access_key": "s/x",
    }


def test_which_unsigned_requests_the_dashboard_admits() -> None:
    table = SessionTable(now=Ticks())
    access = BrowserAccess(table)
    live = f"moorage-session-8484={table.open('K')}"
    admitted_without_session = [
        ("/", "GET"),
        ("/", "HEAD"),
        ("/ui/static/login.js", "GET"),
        ("/ui/login", "POST"),
        ("/ui/logout", "POST"),
    ]
    for path, method in admitted_without_session:
        assert access.admits(scope(path, method)), (path, method)
    for path in ("/ui/api/endpoints", "/ui/static/app.js", "/ui/"):
        assert not access.admits(scope(path))
        assert access.admits(scope(path, cookie=live))
    never = [
        ("/", "POST"),
        ("/healthz2", "GET"),
        ("/endpoints/x/invocations", "POST"),
        ("/moorage/placement/x", "GET"),
        ("/ui/api/endpoints", "POST"),
        ("/ui/api/endpoints", "DELETE"),
        ("/uix", "GET"),
    ]
    for path, method in never:
        assert not access.admits(scope(path, method, cookie=live)), (path, method)
