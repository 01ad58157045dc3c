"""Host/Origin rules and the profile writer, as pure functions."""

from __future__ import annotations

import pytest

from moorage.auth.browser import BrowserRefusal, BrowserRules, host_name, is_loopback
from moorage.auth.profile import replace_sections

RULES = BrowserRules.of(["box.lan"], ["https://nb.example:8888"])


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:8484",
        "localhost",
        "LOCALHOST:1",
        "app.localhost:9",
        "[::1]:8484",
        "10.0.0.5:1",
        "box.lan:8484",
        "box.lan.",
    ],
)
def test_hosts_served(host: str) -> None:
    RULES.check(host, None, None)


@pytest.mark.parametrize(
    "host", [None, "", "attacker.example:8484", "localhost.attacker.example", "[::1"]
)
def test_hosts_refused(host: str | None) -> None:
    with pytest.raises(BrowserRefusal):
        RULES.check(host, None, None)


def test_origins() -> None:
    RULES.check("127.0.0.1:8484", "https://nb.example:8888", None)
    RULES.check("127.0.0.1:8484", "http://127.0.0.1:8484", "same-origin")
    for origin, site in (
        ("null", None),
        ("https://evil.example", None),
        (None, "cross-site"),
        (None, "same-site"),
        ("http://127.0.0.1:9999", None),
    ):
        with pytest.raises(BrowserRefusal):
            RULES.check("127.0.0.1:8484", origin, site)
    RULES.check("127.0.0.1:8484", None, "none")
    BrowserRules.of(["*"], ["*"]).check("anything.example", "https://any.example", None)


def test_host_names_and_loopback_binds() -> None:
    assert host_name("[::1]:80") == "::1"
    assert host_name("Example.COM.:80") == "example.com"
    assert all(is_loopback(a) for a in ("127.0.0.1", "127.5.5.5", "::1", "localhost"))
    assert not any(is_loopback(a) for a in ("0.0.0.0", "::", "192.168.1.2", "example.com"))


def test_replace_sections_keeps_everything_else() -> None:
    text = "# keys\n[default]\na = 1\n\n[moorage]\nold = x\n[work]\nb = 2\n"
    out = replace_sections(text, {"moorage": ["new = y"], "services s": ["k ="]})
    assert (
        out
        == "# keys\n[default]\na = 1\n\n[moorage]\nnew = y\n\n[work]\nb = 2\n\n[services s]\nk =\n"
    )
    assert replace_sections(out, {"moorage": ["new = y"], "services s": ["k ="]}) == out
    assert replace_sections("", {"p": ["x = 1"]}) == "[p]\nx = 1\n"
