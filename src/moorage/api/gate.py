"""The one check before dispatch: browser rules, then the request's signature.

:class:`Gate` runs for every HTTP request on the port before any handler.
It refuses web pages (:mod:`moorage.auth.browser`), then — unless the
server runs with ``--auth none`` or the path is public (``/healthz``, and
``/metrics`` unless ``--private-metrics``) — checks the SigV4 signature
(:mod:`moorage.auth.sigv4`): the headers first, so that an unsigned or
unknown-key request is refused before its body is read, then the body.
A request that passes reaches its handler with a ``receive`` that hands
out the body already read. A request with no ``Authorization`` header at all
may still pass if the dashboard admits it (its login, or its own ``GET``
paths with a live session cookie: :mod:`moorage.dashboard.access`); its body
is then left for the handler.

Refusals are 403s in the protocol the request spoke, with AWS's codes for
that protocol: JSON services (SageMaker, SageMaker Runtime) answer
``MissingAuthenticationTokenException``, ``IncompleteSignatureException``,
``UnrecognizedClientException`` or ``InvalidSignatureException``;
CloudWatch, whose JSON and CBOR protocols keep its query protocol's codes,
answers ``MissingAuthenticationToken``, ``IncompleteSignature``,
``InvalidClientTokenId`` or ``SignatureDoesNotMatch`` in all three.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Collection
from typing import Protocol

from moorage.api import cbor_codec
from moorage.api.http import (
    BodyTooLarge,
    ClientDisconnected,
    Message,
    Receive,
    Scope,
    Send,
    new_request_id,
    read_body,
    send_response,
)
from moorage.api.query_compat import QUERY_ERROR_HEADER, resolve_error
from moorage.api.service_models import CLOUDWATCH, service_model
from moorage.api.xml_output import CONTENT_TYPE as XML_CONTENT_TYPE
from moorage.api.xml_output import encode_query_error
from moorage.auth.browser import BrowserRefusal, BrowserRules
from moorage.auth.sigv4 import AuthFailure, Refusal, SigV4Verifier

log = logging.getLogger(__name__)

RUNTIME_PREFIX = "/endpoints/"
# X-Amz-Target prefixes of services whose errors keep query-protocol codes.
QUERY_COMPATIBLE_TARGETS = frozenset({"GraniteServiceVersion20100801"})

_JSON_CODES = {
    Refusal.MISSING: "MissingAuthenticationTokenException",
    Refusal.INCOMPLETE: "IncompleteSignatureException",
    Refusal.UNKNOWN_KEY: "UnrecognizedClientException",
    Refusal.BAD_SIGNATURE: "InvalidSignatureException",
}
_QUERY_CODES = {
    Refusal.MISSING: "MissingAuthenticationToken",
    Refusal.INCOMPLETE: "IncompleteSignature",
    Refusal.UNKNOWN_KEY: "InvalidClientTokenId",
    Refusal.BAD_SIGNATURE: "SignatureDoesNotMatch",
}


class Wire(enum.Enum):
    """How a refusal is written: the protocol the request spoke."""

    JSON = "json"  # SageMaker JSON 1.1, pages
    REST_JSON = "rest-json"  # SageMaker Runtime
    QUERY_JSON = "query-json"  # CloudWatch JSON 1.0 (awsQueryCompatible)
    QUERY = "query"  # CloudWatch query protocol (form POST)
    CBOR = "cbor"  # CloudWatch RPC v2 CBOR

    @property
    def query_codes(self) -> bool:
        return self in (Wire.QUERY_JSON, Wire.QUERY, Wire.CBOR)


class BrowserSessions(Protocol):
    """The dashboard's say on an unsigned request (:mod:`moorage.dashboard.access`)."""

    def admits(self, scope: Scope) -> bool: ...


class Gate:
    def __init__(
        self,
        verifier: SigV4Verifier | None,
        rules: BrowserRules,
        *,
        max_body: int,
        public_paths: Collection[str] = ("/healthz",),
        sessions: BrowserSessions | None = None,
    ) -> None:
        # None: ``--auth none``, unsigned requests and any key are accepted.
        self.verifier = verifier
        self.rules = rules
        self.max_body = max_body
        self.public_paths = frozenset(public_paths)
        # Asked only about requests with no Authorization header at all, so a
        # signed request (every API call) never pays for it.
        self.sessions = sessions

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """A ``receive`` for the handler, or None once the request was refused."""
        host = origin = fetch_site = None
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.lower()
            if name == b"host":
                host = raw_value.decode("latin-1")
            elif name == b"origin":
                origin = raw_value.decode("latin-1")
            elif name == b"sec-fetch-site":
                fetch_site = raw_value.decode("latin-1")
        try:
            self.rules.check(host, origin, fetch_site)
        except BrowserRefusal as exc:
            log.info("refused a browser request: %s", exc.message)
            await refuse(send, wire_of(scope), "AccessDenied", exc.message, close=True)
            return None
        path: str = scope["path"]
        if path in self.public_paths and scope["method"] in ("GET", "HEAD"):
            return receive
        verifier = self.verifier
        if verifier is None:
            return receive
        try:
            signed = verifier.check_headers(
                scope["method"],
                scope.get("raw_path") or path.encode(),
                scope["query_string"],
                scope["headers"],
            )
        except AuthFailure as exc:
            # A browser on the dashboard's own paths: its session cookie instead.
            if (
                exc.kind is Refusal.MISSING
                and self.sessions is not None
                and self.sessions.admits(scope)
            ):
                return receive
            await _refuse_auth(send, wire_of(scope), exc, close=True)
            return None
        try:
            body = await read_body(receive, self.max_body)
        except BodyTooLarge as exc:
            wire = wire_of(scope)
            code = "RequestEntityTooLarge" if wire.query_codes else "RequestEntityTooLargeException"
            message = f"Request body exceeds the limit of {exc.limit} bytes."
            await refuse(send, wire, code, message, status=413, close=True)
            return None
        except ClientDisconnected:
            return None
        try:
            signed.check_body(body)
        except AuthFailure as exc:
            await _refuse_auth(send, wire_of(scope), exc)
            return None
        return _replay(body, receive)


def wire_of(scope: Scope) -> Wire:
    path: str = scope["path"]
    if path.startswith(RUNTIME_PREFIX):
        return Wire.REST_JSON
    if path.startswith(cbor_codec.PATH_PREFIX):
        return Wire.CBOR
    if path == "/" and scope["method"] == "POST":
        target = None
        form = False
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.lower()
            if name == b"x-amz-target":
                target = raw_value.decode("latin-1")
            elif name == b"content-type":
                form = raw_value.startswith(b"application/x-www-form-urlencoded")
        if target is not None:
            prefix = target.partition(".")[0]
            return Wire.QUERY_JSON if prefix in QUERY_COMPATIBLE_TARGETS else Wire.JSON
        if form:
            return Wire.QUERY
    return Wire.JSON


async def _refuse_auth(
    send: Send, wire: Wire, failure: AuthFailure, *, close: bool = False
) -> None:
    codes = _QUERY_CODES if wire.query_codes else _JSON_CODES
    await refuse(send, wire, codes[failure.kind], failure.message, close=close)


async def refuse(
    send: Send, wire: Wire, code: str, message: str, *, status: int = 403, close: bool = False
) -> None:
    """An error answer in ``wire``'s form, with nothing else done."""
    request_id = new_request_id()
    headers = [(b"x-amzn-requestid", request_id.encode())]
    if close:
        headers.append((b"connection", b"close"))
    if wire is Wire.QUERY:
        body = encode_query_error(
            code, message, status, request_id, service_model=service_model(CLOUDWATCH)
        )
        await send_response(send, status, body, headers, content_type=XML_CONTENT_TYPE.encode())
        return
    if wire is Wire.CBOR:
        cbor_body, cbor_headers = cbor_codec.encode_error(code, message, status)
        content_type = cbor_headers.pop("Content-Type", cbor_codec.CONTENT_TYPE)
        headers.extend((k.lower().encode(), v.encode("latin-1")) for k, v in cbor_headers.items())
        await send_response(send, status, cbor_body, headers, content_type=content_type.encode())
        return
    if wire is Wire.QUERY_JSON:
        error = resolve_error(service_model(CLOUDWATCH), code, status)
        body = json.dumps({"__type": error.shape_id, error.message_member: message}).encode()
        headers.append((QUERY_ERROR_HEADER.encode(), error.query_error_header.encode()))
        await send_response(send, status, body, headers, content_type=b"application/x-amz-json-1.0")
        return
    headers.append((b"x-amzn-errortype", code.encode()))
    body = json.dumps({"__type": code, "message": message}).encode()
    json_type = b"application/json" if wire is Wire.REST_JSON else b"application/x-amz-json-1.1"
    await send_response(send, status, body, headers, content_type=json_type)


def _replay(body: bytes, receive: Receive) -> Receive:
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
