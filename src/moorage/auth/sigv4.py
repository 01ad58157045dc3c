"""Verifies AWS Signature Version 4 on incoming requests.

The signature is recomputed as botocore's signer (:class:`botocore.auth.
SigV4Auth`) computes it, the same code that signed the request in the
caller's boto3: botocore canonicalizes the path and query string and
derives the signing key (kept per key, day and scope), and HMAC-SHA256 comes
from the standard library, so moorage has no crypto of its own. The
canonical headers and the string to sign are the few lines of botocore's
canonical_headers() / string_to_sign(), written without botocore's
per-request objects because this runs on every invocation; they are checked
against botocore on generated requests (tests/unit/auth), and a request the
fast path would refuse is recomputed with botocore's whole
``canonical_request()`` / ``signature()`` before it is refused. What is
checked, in AWS's order and with AWS's messages:

1. an ``Authorization`` header is present and names ``Credential``,
   ``SignedHeaders`` and ``Signature``, with ``host`` among the signed
   headers and an ``X-Amz-Date`` (or ``Date``) header;
2. the access key is one the server knows;
3. the credential scope's date matches the request date, its region is the
   server's region, and the request time is within five minutes of now;
4. an ``X-Amz-Content-SHA256`` header, if sent, is the body's hash;
5. the signature matches.

Presigned (query-string) signatures are refused: no botocore client of the
services moorage serves uses them. Failures are :class:`AuthFailure` with a
:class:`Refusal` kind; :mod:`moorage.api.gate` renders them per protocol.
"""

from __future__ import annotations

import calendar
import datetime as dt
import email.utils
import enum
import functools
import hashlib
import hmac
import logging
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from moorage.auth.keys import KeyRing

log = logging.getLogger(__name__)

ALGORITHM = "AWS4-HMAC-SHA256"
# How far a request's time may be from the server's, either way (as AWS).
MAX_SKEW_S = 300
_ECHO_LIMIT = 256


class Refusal(enum.Enum):
    MISSING = "missing"  # no signature at all
    INCOMPLETE = "incomplete"  # a malformed signature
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"  # wrong, tampered or expired


class AuthFailure(Exception):
    def __init__(self, kind: Refusal, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


class SigV4Verifier:
    """Checks requests against a key ring for one region."""

    def __init__(self, keys: KeyRing, region: str) -> None:
        self.keys = keys
        self.region = region

    def check_headers(
        self,
        method: str,
        raw_path: bytes,
        query_string: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        now: float | None = None,
    ) -> SignedRequest:
        """Everything but the signature itself, before the body is read.

        Raises :class:`AuthFailure`; a request refused here is refused
        without reading its body.
        """
        by_name: dict[str, list[str]] = {}
        for raw_name, raw_value in headers:
            by_name.setdefault(raw_name.decode("latin-1").lower(), []).append(
                raw_value.decode("latin-1")
            )
        authorization = _only(by_name, "authorization")
        if authorization is None:
            if b"x-amz-algorithm=" in query_string.lower():
                raise AuthFailure(
                    Refusal.INCOMPLETE,
                    "moorage accepts AWS Signature Version 4 in the Authorization header only; "
                    "presigned query-string signatures are not accepted.",
                )
            raise AuthFailure(Refusal.MISSING, "Request is missing Authentication Token")
        fields = _parse_authorization(authorization)
        stamp = _only(by_name, "x-amz-date")
        if stamp is None and (http_date := _only(by_name, "date")) is not None:
            # botocore signs with the Date header when a request has one.
            stamp = _stamp_of_http_date(http_date)
        if stamp is None:
            raise AuthFailure(
                Refusal.INCOMPLETE,
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                f"header. Authorization={_echo(authorization)}",
            )
        request_time = _parse_amz_date(stamp)
        scope = fields.credential.split("/")
        if len(scope) != 5:
            raise AuthFailure(
                Refusal.INCOMPLETE,
                "Credential should be scoped to a valid region and service: "
                "'KEY/YYYYMMDD/REGION/SERVICE/aws4_request'. "
                f"Authorization={_echo(authorization)}",
            )
        key_id, scope_date, scope_region, scope_service, terminator = scope
        if terminator != "aws4_request":
            raise AuthFailure(
                Refusal.INCOMPLETE,
                "Credential should be scoped with a valid terminator: 'aws4_request', "
                f"not '{_echo(terminator)}'.",
            )
        signed = fields.signed_headers.split(";")
        if "host" not in signed:
            raise AuthFailure(
                Refusal.INCOMPLETE,
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            )
        secret = self.keys.secret_for(key_id)
        if secret is None:
            raise AuthFailure(
                Refusal.UNKNOWN_KEY, "The security token included in the request is invalid."
            )
        if scope_date != stamp[:8]:
            raise AuthFailure(
                Refusal.BAD_SIGNATURE,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                f"from HTTP: '{_echo(scope_date)}' != '{stamp[:8]}', from '{stamp}'.",
            )
        if scope_region != self.region:
            raise AuthFailure(
                Refusal.BAD_SIGNATURE,
                f"Credential should be scoped to a valid region, not '{_echo(scope_region)}'. "
                f"This server serves region '{self.region}' (moorage serve --region).",
            )
        _check_time(stamp, request_time, time.time() if now is None else now)
        return SignedRequest(
            method,
            raw_path,
            query_string,
            by_name,
            signed,
            stamp,
            Credentials(key_id, secret),
            scope_service,
            self.region,
            fields.signature,
        )


class SignedRequest:
    """A request whose headers passed; :meth:`check_body` checks the signature."""

    __slots__ = (
        "by_name",
        "credentials",
        "method",
        "query_string",
        "raw_path",
        "region",
        "service",
        "signature",
        "signed",
        "stamp",
    )

    def __init__(
        self,
        method: str,
        raw_path: bytes,
        query_string: bytes,
        by_name: dict[str, list[str]],
        signed: list[str],
        stamp: str,
        credentials: Credentials,
        service: str,
        region: str,
        signature: str,
    ) -> None:
        self.method = method
        self.raw_path = raw_path
        self.query_string = query_string
        self.by_name = by_name
        self.signed = signed
        self.stamp = stamp
        self.credentials = credentials
        self.service = service
        self.region = region
        self.signature = signature

    @property
    def access_key_id(self) -> str:
        key_id: str = self.credentials.access_key
        return key_id

    def check_body(self, body: bytes) -> None:
        """Nothing if the signature covers this body, else :class:`AuthFailure`."""
        declared_hash = _only(self.by_name, "x-amz-content-sha256")
        body_hash = hashlib.sha256(body).hexdigest()
        if declared_hash is not None and declared_hash != body_hash:
            raise AuthFailure(
                Refusal.BAD_SIGNATURE,
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
        if hmac.compare_digest(self.expected_signature(body_hash), self.signature):
            return
        # Before refusing, the whole computation as botocore makes it: a request
        # is never refused on the word of the fast path alone.
        if hmac.compare_digest(self._botocore_expected(body), self.signature):
            log.warning("a request verified by botocore's signer but not by the fast path")
            return
        raise AuthFailure(Refusal.BAD_SIGNATURE, MISMATCH)

    def canonical_request(self, body_hash: str) -> str:
        """The canonical request, as botocore's SigV4Auth.canonical_request() builds it.

        Path and query go through botocore's own functions; the headers'
        part is the few lines of botocore's canonical_headers() and
        signed_headers() without their per-call objects (the request path is
        hot). tests/unit/auth checks it against botocore on generated requests.
        """
        names = sorted(set(self.signed))
        by_name = self.by_name
        headers = "\n".join(
            name + ":" + ",".join(" ".join(value.split()) for value in by_name.get(name, ()))
            for name in names
        )
        return "\n".join(
            (
                self.method.upper(),
                _canonical_path(self.raw_path),
                _canonical_query(self.query_string),
                headers + "\n",
                ";".join(names),
                _only(by_name, "x-amz-content-sha256") or body_hash,
            )
        )

    def expected_signature(self, body_hash: str) -> str:
        """The signature of this request with ``body_hash``, as the fast path computes it."""
        canonical = self.canonical_request(body_hash)
        day = self.stamp[:8]
        string_to_sign = "\n".join(
            (
                ALGORITHM,
                self.stamp,
                f"{day}/{self.region}/{self.service}/aws4_request",
                hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
            )
        )
        key = _derive(self.credentials.secret_key, day, self.region, self.service)
        return hmac.digest(key, string_to_sign.encode("utf-8"), "sha256").hex()

    def _botocore_expected(self, body: bytes) -> str:
        headers = HTTPHeaders()
        for name in self.signed:
            for value in self.by_name.get(name, ()):
                headers[name] = value
        url = "http://" + (_only(self.by_name, "host") or "") + self.raw_path.decode("latin-1")
        if self.query_string:
            url += "?" + self.query_string.decode("latin-1")
        request = AWSRequest(method=self.method, url=url, headers=headers, data=body)
        request.context["timestamp"] = self.stamp
        signer = SigV4Auth(self.credentials, self.service, self.region)
        canonical = signer.canonical_request(request)
        signature: str = signer.signature(signer.string_to_sign(request, canonical), request)
        return signature


# One signer for botocore's path and query canonicalization (they use no key).
_CANONICALIZER = SigV4Auth(None, "", "")


@functools.lru_cache(maxsize=1024)
def _canonical_path(raw_path: bytes) -> str:
    path: str = _CANONICALIZER._normalize_url_path(raw_path.decode("latin-1"))
    return path


def _canonical_query(query_string: bytes) -> str:
    if not query_string:
        return ""
    query: str = _CANONICALIZER._canonical_query_string_url(
        urlsplit("?" + query_string.decode("latin-1"))
    )
    return query


@functools.lru_cache(maxsize=256)
def _derive(secret: str, day: str, region: str, service: str) -> bytes:
    """botocore's signing-key derivation (SigV4Auth.signature), kept per key, day and scope."""
    signer = SigV4Auth(None, service, region)
    k_date: bytes = signer._sign(f"AWS4{secret}".encode(), day)
    k_region: bytes = signer._sign(k_date, region)
    k_service: bytes = signer._sign(k_region, service)
    k_signing: bytes = signer._sign(k_service, "aws4_request")
    return k_signing


class _Fields:
    __slots__ = ("credential", "signature", "signed_headers")

    def __init__(self, credential: str, signed_headers: str, signature: str) -> None:
        self.credential = credential
        self.signed_headers = signed_headers
        self.signature = signature


def _parse_authorization(value: str) -> _Fields:
    algorithm, _, rest = value.strip().partition(" ")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, text = item.strip().partition("=")
        if sep:
            parts[name] = text
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not parts.get(name)
    ]
    if algorithm != ALGORITHM and not missing:
        missing.append(f"Unsupported AWS 'algorithm': '{_echo(algorithm)}'.")
    if missing:
        raise AuthFailure(Refusal.INCOMPLETE, " ".join(missing) + f" Authorization={_echo(value)}")
    return _Fields(parts["Credential"], parts["SignedHeaders"], parts["Signature"])


@functools.lru_cache(maxsize=64)
def _parse_amz_date(stamp: str) -> float:
    try:
        if len(stamp) != 16 or stamp[8] != "T" or stamp[15] != "Z" or not stamp[:8].isdigit():
            raise ValueError(stamp)
        parsed = (
            int(stamp[0:4]),
            int(stamp[4:6]),
            int(stamp[6:8]),
            int(stamp[9:11]),
            int(stamp[11:13]),
            int(stamp[13:15]),
        )
        if not (1 <= parsed[1] <= 12 and 1 <= parsed[2] <= 31 and parsed[3] < 24):
            raise ValueError(stamp)
        if parsed[4] > 59 or parsed[5] > 60:
            raise ValueError(stamp)
    except ValueError:
        raise AuthFailure(
            Refusal.INCOMPLETE,
            f"Date must be in ISO-8601 'basic format'. Got '{_echo(stamp)}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601",
        ) from None
    return float(calendar.timegm((*parsed, 0, 0, 0)))


def _stamp_of_http_date(value: str) -> str:
    """An RFC 7231 ``Date`` as the ISO 8601 basic stamp SigV4 signs with."""
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        moment = None
    if moment is None:
        raise AuthFailure(
            Refusal.INCOMPLETE,
            f"Date must be in ISO-8601 'basic format'. Got '{_echo(value)}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601",
        )
    if moment.tzinfo is None:  # "-0000", as botocore writes it: UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return _format(moment.timestamp())


def _check_time(stamp: str, request_time: float, now: float) -> None:
    if request_time < now - MAX_SKEW_S:
        earliest = _format(now - MAX_SKEW_S)
        raise AuthFailure(
            Refusal.BAD_SIGNATURE,
            f"Signature expired: {stamp} is now earlier than {earliest} ({_format(now)} - 5 min.)",
        )
    if request_time > now + MAX_SKEW_S:
        latest = _format(now + MAX_SKEW_S)
        raise AuthFailure(
            Refusal.BAD_SIGNATURE,
            f"Signature not yet current: {stamp} is still later than {latest} "
            f"({_format(now)} + 5 min.)",
        )


def _only(by_name: dict[str, list[str]], name: str) -> str | None:
    values = by_name.get(name)
    return values[-1] if values else None


def _format(moment: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(moment))


def _echo(text: str) -> str:
    return text if len(text) <= _ECHO_LIMIT else text[:_ECHO_LIMIT] + "..."
