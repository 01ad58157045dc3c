"""The port's HTTP limits: header size, slow clients, and the connection cap.

Two servers: one with short timeouts (2 s for a head and for body pauses,
either way, 3 s idle) and an 8K head limit; one capped at 8 connections (with long
timeouts) to show that idle connections make room, that health checks and
control calls are still served past the cap while invocations are refused,
and that past the reserve new connections are refused at once. Slow and
oversized requests are written on raw sockets: they never reach a handler
(or, signed with :func:`support.raw.signed_headers`, they reach it only to
be cut off); the requests that must succeed are signed. See docs/limits.md.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from support.names import unique
from support.raw import request, sagemaker_call, signed_headers
from support.server import BIN, MoorageServer

HEADER_TIMEOUT = 2
BODY_TIMEOUT = 2
KEEP_ALIVE = 3
MAX_HEAD = 8192
CAP = 8
RESERVE = 32  # moorage.http_limits.CONTROL_RESERVE, as documented
# Upper bounds are generous, for slow or busy machines.
SLACK = 12.0
LIST_MODELS = {"X-Amz-Target": "SageMaker.ListModels", "Content-Type": "application/x-amz-json-1.1"}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoorageServer]:
    server = MoorageServer(
        tmp_path_factory.mktemp("limited"),
        extra_args=(
            "--header-timeout",
            str(HEADER_TIMEOUT),
            "--body-timeout",
            str(BODY_TIMEOUT),
            "--keep-alive-timeout",
            str(KEEP_ALIVE),
            "--max-header-size",
            "8K",
        ),
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoorageServer]:
    server = MoorageServer(
        tmp_path_factory.mktemp("capped"),
        extra_args=(
            "--max-connections",
            str(CAP),
            "--header-timeout",
            "300",
            "--body-timeout",
            "300",
        ),
    ).start()
    yield server
    server.stop()


# -- raw sockets --------------------------------------------------------------


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    return sock


def read_until_closed(sock: socket.socket, timeout: float = 30.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    started = time.monotonic()
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        except TimeoutError:
            pytest.fail(f"the server kept the connection open for {timeout} s")
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - started


def parse(reply: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def read_reply(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response with a Content-Length, leaving the connection as the server left it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-response: {data!r}"
        data += chunk
    status, headers, body = parse(data)
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return status, headers, body


def head_bytes(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def signed_head(url: str, body: bytes, *, length: int | None = None) -> bytes:
    """A signed ListModels head for ``body``, declaring ``length`` bytes (default: the body's)."""
    headers = signed_headers(url, "POST", "/", body, dict(LIST_MODELS))
    headers["Content-Length"] = str(len(body) if length is None else length)
    return head_bytes("POST", "/", headers)


def healthz(url: str) -> bytes:
    return head_bytes("GET", "/healthz", {"Host": urlsplit(url).netloc})


def is_open(sock: socket.socket, wait: float = 0.5) -> bool:
    """True unless the server closed ``sock`` (it sends nothing unasked)."""
    readable, _, _ = select.select([sock], [], [], wait)
    if not readable:
        return True
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except ConnectionResetError:
        return False


def assert_error(reply: bytes, status: int, code: str) -> str:
    got, headers, body = parse(reply)
    assert got == status, reply
    assert headers["connection"] == "close"
    assert headers["x-amzn-errortype"] == code
    document = json.loads(body)
    assert document["__type"] == code
    message: str = document["message"]
    return message


# -- header size ----------------------------------------------------------------


def test_oversized_head_is_answered_431(limited: MoorageServer) -> None:
    with connect(limited.url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * MAX_HEAD + b"\r\n\r\n")
        reply, _ = read_until_closed(sock)
    message = assert_error(reply, 431, "RequestHeaderFieldsTooLarge")
    assert message == f"The request line and headers exceed the limit of {MAX_HEAD} bytes."


def test_many_headers_count_together(limited: MoorageServer) -> None:
    headers = "".join(f"X-H{i}: {'v' * 100}\r\n" for i in range(100))
    with connect(limited.url) as sock:
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        reply, _ = read_until_closed(sock)
    assert_error(reply, 431, "RequestHeaderFieldsTooLarge")


def test_endless_head_is_cut_off_without_waiting_for_its_end(limited: MoorageServer) -> None:
    with connect(limited.url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(2 * MAX_HEAD // 1000 + 2):
                sock.sendall(b"a" * 1000)
                time.sleep(0.02)
        reply, _ = read_until_closed(sock)
    # A header timeout would have closed it without an answer.
    assert_error(reply, 431, "RequestHeaderFieldsTooLarge")


def test_head_just_under_the_limit_is_served(limited: MoorageServer) -> None:
    reply = request(limited.url, body=b"{}", headers={**LIST_MODELS, "X-Pad": "p" * 6000})
    assert reply.status == 200, reply.body
    assert "Models" in reply.json()


def test_body_arriving_with_the_head_is_not_counted_as_head(limited: MoorageServer) -> None:
    # Head and a body much larger than the head limit, in one write.
    body = b"{" + b" " * (30 * MAX_HEAD) + b"}"
    with connect(limited.url) as sock:
        sock.sendall(signed_head(limited.url, body) + body)
        status, _, answer = read_reply(sock)
    assert status == 200, answer
    assert "Models" in json.loads(answer)


# -- slow clients ---------------------------------------------------------------


def test_slowloris_head_is_closed_after_the_header_timeout(limited: MoorageServer) -> None:
    with connect(limited.url) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        # A header line every 0.25 s: never idle, never done.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while time.monotonic() - started < HEADER_TIMEOUT + SLACK:
                time.sleep(0.25)
                sock.sendall(b"X-Slow: 1\r\n")
        reply, _ = read_until_closed(sock)
        elapsed = time.monotonic() - started
    assert reply == b""
    assert HEADER_TIMEOUT - 0.1 <= elapsed < HEADER_TIMEOUT + SLACK


def test_silent_connection_is_closed_after_the_header_timeout(limited: MoorageServer) -> None:
    started = time.monotonic()
    with connect(limited.url) as sock:
        reply, _ = read_until_closed(sock)
    elapsed = time.monotonic() - started
    assert reply == b""
    assert HEADER_TIMEOUT - 0.1 <= elapsed < HEADER_TIMEOUT + SLACK


def test_stalled_body_is_abandoned_after_the_body_timeout(limited: MoorageServer) -> None:
    body = b'{"MaxResults": 10}'
    with connect(limited.url) as sock:
        sock.sendall(signed_head(limited.url, body) + body[:5])
        time.sleep(0.5)
        sock.sendall(body[5:9])  # progress resets the wait for the next byte
        paused = time.monotonic()
        reply, _ = read_until_closed(sock)
        elapsed = time.monotonic() - paused
    message = assert_error(reply, 408, "RequestTimeout")
    assert message == (
        f"No byte of the request body arrived for {BODY_TIMEOUT} seconds; "
        "the request was abandoned."
    )
    assert BODY_TIMEOUT - 0.1 <= elapsed < BODY_TIMEOUT + SLACK


def test_idle_keep_alive_connection_is_closed(limited: MoorageServer) -> None:
    with connect(limited.url) as sock:
        sock.sendall(healthz(limited.url))
        assert read_reply(sock)[0] == 200
        # Still usable while idle for less than the keep-alive timeout.
        time.sleep(1)
        sock.sendall(healthz(limited.url))
        assert read_reply(sock)[0] == 200
        reply, elapsed = read_until_closed(sock)
    assert reply == b""
    assert KEEP_ALIVE - 0.5 <= elapsed < KEEP_ALIVE + SLACK


def test_client_that_stops_reading_is_cut_off(limited: MoorageServer) -> None:
    # Answers far larger than the socket buffers (about 4 MiB here), asked
    # for all at once (pipelined) by a client that then reads nothing.
    name = unique("slow-reader")
    environment = {f"V{i:03d}_".ljust(1024, "K"): "v" * 1024 for i in range(100)}
    created = sagemaker_call(
        limited.url,
        "CreateModel",
        {"ModelName": name, "PrimaryContainer": {"Image": "img", "Environment": environment}},
    )
    assert created.status == 200, created.body
    body = json.dumps({"ModelName": name}).encode()
    describe = {**LIST_MODELS, "X-Amz-Target": "SageMaker.DescribeModel"}
    answer_size = len(request(limited.url, body=body, headers=describe).body)
    count = (12 << 20) // answer_size
    headers = signed_headers(limited.url, "POST", "/", body, describe)
    pipelined = head_bytes("POST", "/", {**headers, "Content-Length": str(len(body))}) + body
    parts = urlsplit(limited.url)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((parts.hostname, parts.port))

        def send() -> None:
            with contextlib.suppress(OSError):
                sock.sendall(pipelined * count)

        threading.Thread(target=send, daemon=True).start()
        time.sleep(BODY_TIMEOUT + 6)
        received, _ = read_until_closed(sock, timeout=60)
    # Cut off once nothing was read for the body timeout: most answers were never sent.
    answers = received.count(b"HTTP/1.1 200 OK")
    assert 0 < answers < count // 2, (answers, count)


def test_abandoned_request_does_not_hold_up_shutdown(tmp_path: Path) -> None:
    server = MoorageServer(tmp_path / "data", extra_args=("--body-timeout", "1")).start()
    try:
        body = b'{"MaxResults": 10}'
        with connect(server.url) as sock:
            sock.sendall(signed_head(server.url, body) + body[:3])
            reply, _ = read_until_closed(sock)
        assert_error(reply, 408, "RequestTimeout")
        # A handler still waiting for the body would keep the server's
        # graceful shutdown waiting for its full 30 s.
        started = time.monotonic()
        assert server.stop() == 0
        assert time.monotonic() - started < 20
    finally:
        server.stop()


# -- the connection cap -----------------------------------------------------------


@contextlib.contextmanager
def sockets(count: int, url: str, first: bytes) -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = connect(url)
            opened.append(sock)
            sock.sendall(first)
        yield opened
    finally:
        for sock in opened:
            sock.close()


def slow_head(url: str) -> bytes:
    return f"GET /healthz HTTP/1.1\r\nHost: {urlsplit(url).netloc}\r\n".encode()


def invoke_error(server: MoorageServer) -> Any:
    runtime = server.client("sagemaker-runtime")
    try:
        with pytest.raises(ClientError) as caught:
            runtime.invoke_endpoint(EndpointName="nowhere", Body=b"{}")
    finally:
        runtime.close()
    return caught.value.response


def wait_for_invocations(server: MoorageServer) -> None:
    """Wait until an invocation is served again (the server has seen the closes)."""
    deadline = time.monotonic() + SLACK
    while True:
        code = invoke_error(server)["Error"]["Code"]
        if code == "ValidationError" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert code == "ValidationError"  # "Endpoint nowhere of account ... not found."


def test_idle_connections_make_room_longest_idle_first(capped: MoorageServer) -> None:
    with sockets(CAP, capped.url, healthz(capped.url)) as idle:
        for sock in idle:
            assert read_reply(sock)[0] == 200
        sm = capped.client("sagemaker")
        try:
            assert "Models" in sm.list_models()
        finally:
            sm.close()
        deadline = time.monotonic() + SLACK
        while is_open(idle[0]) and time.monotonic() < deadline:
            pass
        assert not is_open(idle[0])
        assert all(is_open(sock, wait=0.1) for sock in idle[1:])
    wait_for_invocations(capped)


def test_past_the_cap_health_checks_and_control_calls_are_served(
    capped: MoorageServer,
) -> None:
    with sockets(CAP, capped.url, slow_head(capped.url)) as slow:
        time.sleep(0.5)
        assert request(capped.url, "GET", "/healthz").status == 200
        sm = capped.client("sagemaker")
        try:
            assert "Models" in sm.list_models()
        finally:
            sm.close()
        cloudwatch = capped.client("cloudwatch")
        try:
            assert "Metrics" in cloudwatch.list_metrics()
        finally:
            cloudwatch.close()
        refused = invoke_error(capped)
        assert refused["Error"]["Code"] == "ServiceUnavailable"
        assert refused["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert f"{CAP} connections open" in refused["Error"]["Message"]
        # The reserved connection carried one request and was closed.
        with connect(capped.url) as sock:
            sock.sendall(
                head_bytes(
                    "POST",
                    "/endpoints/nowhere/invocations",
                    {"Host": urlsplit(capped.url).netloc, "Content-Length": "2"},
                )
                + b"{}"
            )
            reply, _ = read_until_closed(sock)
        assert_error(reply, 503, "ServiceUnavailable")
        # The slow connections were never disturbed.
        assert all(is_open(sock, wait=0.05) for sock in slow)
    wait_for_invocations(capped)


def test_past_the_reserve_new_connections_are_refused_at_once(capped: MoorageServer) -> None:
    with sockets(CAP + RESERVE, capped.url, slow_head(capped.url)):
        time.sleep(0.5)
        with connect(capped.url) as sock:
            reply, _ = read_until_closed(sock)
        message = assert_error(reply, 503, "ServiceUnavailable")
        assert message == (
            f"The server has {CAP + RESERVE} connections open, its limit; try again later."
        )
    wait_for_invocations(capped)
    assert request(capped.url, "GET", "/healthz").status == 200


# -- options --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--max-header-size", "100"), "--max-header-size must be from 1K to 1M"),
        (("--max-header-size", "lots"), "--max-header-size: 'lots' is not a size"),
        (("--header-timeout", "0"), "--header-timeout must be from 1 to 3600 seconds"),
        (("--body-timeout", "3601"), "--body-timeout must be from 1 to 3600 seconds"),
        (("--keep-alive-timeout", "0"), "--keep-alive-timeout must be from 1 to 3600 seconds"),
        (("--max-connections", "0"), "--max-connections must be from 1 to "),
        (("--max-connections", "100000000"), "--max-connections must be from 1 to "),
    ],
)
def test_unusable_options_are_refused(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    out = subprocess.run(
        [str(BIN / "moorage"), "serve", "--port", "0", "--data-dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("moorage serve: ")
    assert message in lines[0]
