"""Who may see the dashboard: the login, its session cookie, and where the cookie does not reach.

Against a real server over HTTP: without a session ``GET /`` is the login
page and nothing else answers; a wrong key is refused (401) and a malformed
form is a 400; a right key sets an ``HttpOnly``, ``SameSite=Strict`` cookie
that opens the dashboard's own GET paths, never the AWS APIs, the runtime or
moorage's other pages; a cross-site login and a foreign Host are refused;
logout ends the session; logins are rate-limited. Every dashboard answer
carries its Content-Security-Policy, frame and cache headers. With
``--auth none`` the dashboard needs no login, and the browser rules still
hold.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.endpoints import IMAGE, ROLE
from support.names import unique
from support.raw import RawReply, request
from support.server import MoorageServer, running

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LIST_ENDPOINTS = {
    "X-Amz-Target": "SageMaker.ListEndpoints",
    "Content-Type": "application/x-amz-json-1.1",
}


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoorageServer]:
    """A server of this module's own: its login limiter and sessions are not shared."""
    with running(tmp_path_factory.mktemp("dashboard-access")) as server:
        yield server


@pytest.fixture(scope="module")
def cookie(dash: MoorageServer) -> str:
    """A live session of the module's server, as ``name=value``."""
    return _cookie(_login(dash))


def _form(access_key_id: str, secret: str) -> bytes:
    return urllib.parse.urlencode(
        {"access_key_id": access_key_id, "secret_access_key": secret}
    ).encode()


def _login(server: MoorageServer, **headers: str) -> RawReply:
    keys = server.credentials
    body = _form(keys["aws_access_key_id"], keys["aws_secret_access_key"])
    return request(server.url, "POST", "/ui/login", body, headers={**FORM, **headers}, sign=False)


def _cookie(reply: RawReply) -> str:
    """``name=value`` of the session cookie a login set."""
    return reply.headers["set-cookie"].split(";")[0]


def _get(server: MoorageServer, path: str, cookie: str | None = None, **headers: str) -> RawReply:
    extra = {"Cookie": cookie} if cookie else {}
    return request(server.url, "GET", path, headers={**extra, **headers}, sign=False)


def _assert_protected_headers(reply: RawReply) -> None:
    csp = reply.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["x-content-type-options"] == "nosniff"


def test_without_a_session_only_the_login_page_answers(dash: MoorageServer) -> None:
    page = _get(dash, "/")
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert b'id="login"' in page.body
    assert b"app.js" not in page.body
    _assert_protected_headers(page)
    assert page.headers["cache-control"] == "no-store"
    for path in ("/ui/static/login.js", "/ui/static/dashboard.css", "/ui/static/favicon.svg"):
        assert _get(dash, path).status == 200, path
    for path in (
        "/ui/api/endpoints",
        "/ui/api/session",
        "/ui/api/endpoint?name=x",
        "/ui/static/app.js",
        "/ui/static/index.html",
        "/ui/anything",
    ):
        reply = _get(dash, path)
        assert reply.status == 403, path
        assert reply.json()["__type"] == "MissingAuthenticationTokenException"
    # A cookie that is not a live session is no session.
    forged = f"moorage-session-{dash.url.rsplit(':', 1)[1]}=" + "A" * 43
    assert _get(dash, "/ui/api/endpoints", forged).status == 403
    assert b'id="login"' in _get(dash, "/", forged).body


def test_a_wrong_key_or_a_malformed_form_is_refused(dash: MoorageServer) -> None:
    keys = dash.credentials
    cases = [
        (_form(keys["aws_access_key_id"], "wrong-secret"), FORM, 401),
        (_form("MOORNOSUCHKEY0000000", keys["aws_secret_access_key"]), FORM, 401),
        (b"access_key_id=only", FORM, 400),
        (b"\xff\xfe", FORM, 400),
        (
            _form(keys["aws_access_key_id"], keys["aws_secret_access_key"]) + b"&access_key_id=x",
            FORM,
            400,
        ),
        (json.dumps({"access_key_id": "x"}).encode(), {"Content-Type": "application/json"}, 400),
        (b"a" * 5000, FORM, 413),
    ]
    for body, headers, status in cases:
        reply = request(dash.url, "POST", "/ui/login", body, headers=headers, sign=False)
        assert reply.status == status, (body[:60], reply.body)
        assert "set-cookie" not in reply.headers
        error = reply.json()
        assert error["message"]
        if status == 401:
            assert error["__type"] == "UnrecognizedClientException"
            # The answer does not say which half was wrong.
            assert error["message"] == "The access key ID or secret access key is not valid."


def test_a_session_opens_the_dashboard_and_ends_at_logout(dash: MoorageServer) -> None:
    reply = _login(dash)
    assert reply.status == 200, reply.body
    set_cookie = reply.headers["set-cookie"]
    attributes = {part.strip().lower() for part in set_cookie.split(";")[1:]}
    assert {"path=/", "httponly", "samesite=strict"} <= attributes
    assert "secure" not in attributes  # plain HTTP; HTTPS adds Secure (unit-tested)
    cookie = _cookie(reply)
    assert cookie.startswith(f"moorage-session-{dash.url.rsplit(':', 1)[1]}=")

    page = _get(dash, "/", cookie)
    assert b"/ui/static/app.js" in page.body
    _assert_protected_headers(page)
    listing = _get(dash, "/ui/api/endpoints", cookie)
    assert listing.status == 200
    assert listing.headers["cache-control"] == "no-store"
    _assert_protected_headers(listing)
    assert listing.json()["region"] == "us-east-1"
    assert _get(dash, "/ui/static/app.js", cookie).status == 200
    assert _get(dash, "/ui/api/session", cookie).json() == {
        "signedIn": True,
        "loginRequired": True,
    }

    out = request(dash.url, "POST", "/ui/logout", headers={"Cookie": cookie}, sign=False)
    assert out.status == 200
    assert "max-age=0" in out.headers["set-cookie"].lower()
    assert _get(dash, "/ui/api/endpoints", cookie).status == 403
    assert b'id="login"' in _get(dash, "/", cookie).body


def test_a_session_cookie_never_opens_the_aws_apis(dash: MoorageServer, cookie: str) -> None:
    name = unique("dash-cookie")
    create = json.dumps(
        {"ModelName": name, "PrimaryContainer": {"Image": IMAGE}, "ExecutionRoleArn": ROLE}
    ).encode()
    refusals = [
        ("POST", "/", b"{}", LIST_ENDPOINTS),
        (
            "POST",
            "/",
            create,
            {
                "X-Amz-Target": "SageMaker.CreateModel",
                "Content-Type": LIST_ENDPOINTS["Content-Type"],
            },
        ),
        (
            "POST",
            "/",
            b"Action=ListMetrics&Version=2010-08-01",
            {"Content-Type": "application/x-www-form-urlencoded"},
        ),
        ("POST", f"/endpoints/{name}/invocations", b"{}", {"Content-Type": "application/json"}),
        ("GET", f"/moorage/placement/{name}", b"", {}),
        ("POST", "/moorage/plan", b"{}", {}),
        # The dashboard's own documents are read-only, and only GET stands for a signature.
        ("POST", "/ui/api/endpoints", b"{}", {}),
        ("DELETE", "/ui/api/endpoints", b"", {}),
    ]
    for method, path, body, headers in refusals:
        reply = request(
            dash.url, method, path, body, headers={**headers, "Cookie": cookie}, sign=False
        )
        assert reply.status == 403, (method, path, reply.body)
        assert b"MissingAuthentication" in reply.body
    # Nothing was created, and the session still works where it should.
    assert dash.sagemaker.list_models(NameContains=name)["Models"] == []
    assert _get(dash, "/ui/api/endpoints", cookie).status == 200


def test_signed_requests_read_the_dashboard_documents_too(dash: MoorageServer) -> None:
    reply = request(dash.url, "GET", "/ui/api/endpoints")
    assert reply.status == 200
    assert "endpoints" in reply.json()


def test_cross_site_logins_and_foreign_hosts_are_refused(dash: MoorageServer, cookie: str) -> None:
    port = dash.url.rsplit(":", 1)[1]
    for headers in (
        {"Origin": "https://attacker.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Host": f"attacker.example:{port}"},
    ):
        reply = _login(dash, **headers)
        assert reply.status == 403, headers
        assert reply.json()["__type"] == "AccessDenied"
        assert "set-cookie" not in reply.headers
    # The page's own origin may log in.
    assert _login(dash, Origin=f"http://127.0.0.1:{port}").status == 200
    # A rebound name is refused even with a live session (DNS rebinding).
    reply = _get(dash, "/ui/api/endpoints", cookie, Host=f"rebound.example:{port}")
    assert reply.status == 403
    assert reply.json()["__type"] == "AccessDenied"


def test_bad_queries_are_clear_errors(dash: MoorageServer, cookie: str) -> None:
    cases = [
        ("/ui/api/endpoint", 400, "ValidationException"),
        ("/ui/api/endpoint?name=" + "x" * 64, 400, "ValidationException"),
        ("/ui/api/endpoint?name=no-such-endpoint", 400, "ValidationException"),
        ("/ui/api/metrics?name=no-such-endpoint", 400, "ValidationException"),
        ("/ui/api/logs?name=no-such-endpoint", 400, "ValidationException"),
        ("/ui/api/metrics?name=x&minutes=7", 400, "ValidationException"),
        ("/ui/api/endpoint?name=%ff", 400, "ValidationException"),
        ("/ui/api/nothing", 404, "UnknownOperationException"),
        ("/ui/static/../credentials", 404, "ResourceNotFound"),
    ]
    for path, status, code in cases:
        reply = _get(dash, path, cookie)
        assert reply.status == status, (path, reply.body)
        assert reply.json()["__type"] == code, path
    missing = _get(dash, "/ui/api/endpoint?name=no-such-endpoint", cookie).json()
    assert missing["message"].startswith('Could not find endpoint "arn:aws:sagemaker:')


def test_logins_are_rate_limited(fresh_server: MoorageServer) -> None:
    keys = fresh_server.credentials
    wrong = _form(keys["aws_access_key_id"], "wrong")
    statuses = [
        request(fresh_server.url, "POST", "/ui/login", wrong, headers=FORM, sign=False).status
        for _ in range(20)
    ]
    assert statuses == [401] * 20
    limited = _login(fresh_server)
    assert limited.status == 429
    assert limited.json()["__type"] == "ThrottlingException"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "set-cookie" not in limited.headers


def test_with_auth_none_the_dashboard_is_open_but_not_to_other_sites(tmp_path: Path) -> None:
    server = MoorageServer(tmp_path / "data", extra_args=("--auth", "none")).start()
    try:
        page = _get(server, "/")
        assert page.status == 200
        assert b"/ui/static/app.js" in page.body
        _assert_protected_headers(page)
        assert _get(server, "/ui/api/session").json() == {
            "signedIn": True,
            "loginRequired": False,
        }
        assert _get(server, "/ui/api/endpoints").json()["endpoints"] == []
        port = server.url.rsplit(":", 1)[1]
        # DNS rebinding and other sites' pages are refused in every auth mode.
        rebound = _get(server, "/ui/api/endpoints", Host=f"rebound.example:{port}")
        assert rebound.status == 403
        assert rebound.json()["__type"] == "AccessDenied"
        cross = _get(server, "/ui/api/endpoints", **{"Sec-Fetch-Site": "cross-site"})
        assert cross.status == 403
    finally:
        server.stop()
