"""The SigV4 verifier against requests signed by botocore's own signer."""

from __future__ import annotations

import calendar
import time

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from moorage.auth.keys import KeyRing
from moorage.auth.sigv4 import AuthFailure, Refusal, SigV4Verifier

KEY, SECRET = "AKIAEXAMPLE000000000", "secret/with+chars" * 2
VERIFIER = SigV4Verifier(KeyRing({KEY: SECRET}), "us-east-1")


def _sign(
    path: str = "/",
    body: bytes = b"{}",
    headers: dict[str, str] | None = None,
    *,
    service: str = "sagemaker",
    region: str = "us-east-1",
    secret: str = SECRET,
) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
    url = "http://127.0.0.1:8484" + path
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers or {}))
    request.headers["Host"] = "127.0.0.1:8484"
    SigV4Auth(Credentials(KEY, secret), service, region).add_auth(request)
    raw_path, _, query = path.partition("?")
    pairs = [(k.lower().encode(), v.encode("latin-1")) for k, v in request.headers.items()]
    return raw_path.encode(), query.encode(), pairs


def _verify(
    raw_path: bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes = b"{}",
    now: float | None = None,
) -> str:
    signed = VERIFIER.check_headers("POST", raw_path, query, headers, now)
    signed.check_body(body)
    return signed.access_key_id


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/endpoints/my-endpoint/invocations",
        "/endpoints/a%20b/invocations-response-stream",
        "/service/GraniteServiceVersion20100801/operation/GetMetricData",
        "/moorage/placement/ep?b=2&a=1&a=0",
        "/moorage/placement/x?name=va%2Flue&empty=",
    ],
)
def test_botocore_signatures_verify(path: str) -> None:
    raw_path, query, headers = _sign(path, headers={"Content-Type": "application/json"})
    assert _verify(raw_path, query, headers) == KEY


def test_any_service_name_and_a_signed_content_hash_verify() -> None:
    raw_path, query, headers = _sign(service="monitoring")
    assert _verify(raw_path, query, headers) == KEY
    empty_object = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    raw_path, query, headers = _sign(headers={"X-Amz-Content-SHA256": empty_object})
    assert _verify(raw_path, query, headers) == KEY


def _refusal(call: object) -> tuple[Refusal, str]:
    assert callable(call)
    with pytest.raises(AuthFailure) as caught:
        call()
    return caught.value.kind, caught.value.message


def test_tampering_is_a_bad_signature() -> None:
    raw_path, query, headers = _sign("/endpoints/e/invocations", body=b"[1]")
    kind, message = _refusal(lambda: _verify(raw_path, query, headers, body=b"[2]"))
    assert kind is Refusal.BAD_SIGNATURE and message.startswith("The request signature")
    assert _refusal(lambda: _verify(b"/endpoints/f/invocations", query, headers, b"[1]"))[0] is (
        Refusal.BAD_SIGNATURE
    )
    assert _refusal(lambda: _verify(raw_path, b"x=1", headers, b"[1]"))[0] is Refusal.BAD_SIGNATURE
    raw_path, query, headers = _sign(headers={"Content-Type": "application/json"})
    changed = [(n, b"text/csv" if n == b"content-type" else v) for n, v in headers]
    assert _refusal(lambda: _verify(raw_path, query, changed))[0] is Refusal.BAD_SIGNATURE
    # A repeated signed header changes its canonical value.
    doubled = [*headers, (b"content-type", b"text/csv")]
    assert _refusal(lambda: _verify(raw_path, query, doubled))[0] is Refusal.BAD_SIGNATURE


def test_a_declared_hash_must_be_the_bodys() -> None:
    raw_path, query, headers = _sign(headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    kind, message = _refusal(lambda: _verify(raw_path, query, headers))
    assert kind is Refusal.BAD_SIGNATURE and "x-amz-content-sha256" in message


def test_wrong_secret_unknown_key_and_region() -> None:
    assert _refusal(lambda: _verify(*_sign(secret="other")))[0] is Refusal.BAD_SIGNATURE
    kind, message = _refusal(lambda: _verify(*_sign(region="eu-west-1")))
    assert kind is Refusal.BAD_SIGNATURE and "eu-west-1" in message
    other = SigV4Verifier(KeyRing({"AKIAOTHER": "x"}), "us-east-1")
    raw_path, query, headers = _sign()
    with pytest.raises(AuthFailure) as caught:
        other.check_headers("POST", raw_path, query, headers)
    assert caught.value.kind is Refusal.UNKNOWN_KEY


def test_five_minutes_either_way() -> None:
    raw_path, query, headers = _sign()
    stamp = dict(headers)[b"x-amz-date"].decode()
    signed_at = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
    assert _verify(raw_path, query, headers, now=signed_at + 300) == KEY
    assert _verify(raw_path, query, headers, now=signed_at - 300) == KEY
    kind, message = _refusal(lambda: _verify(raw_path, query, headers, now=signed_at + 301))
    assert kind is Refusal.BAD_SIGNATURE and message.startswith(f"Signature expired: {stamp}")
    kind, message = _refusal(lambda: _verify(raw_path, query, headers, now=signed_at - 301))
    assert message.startswith(f"Signature not yet current: {stamp}")


@pytest.mark.parametrize(
    ("authorization", "date", "expected"),
    [
        (None, "20240101T000000Z", Refusal.MISSING),
        ("Bearer abc", "20240101T000000Z", Refusal.INCOMPLETE),
        ("AWS4-HMAC-SHA256 Signature=00", "20240101T000000Z", Refusal.INCOMPLETE),
        (
            "AWS4-HMAC-SHA256 Credential=K/20240101/us-east-1/s/aws4_request, "
            "SignedHeaders=host, Signature=00",
            None,
            Refusal.INCOMPLETE,
        ),
        (
            "AWS4-HMAC-SHA256 Credential=K/20240101/us-east-1/s/aws4_request, "
            "SignedHeaders=host, Signature=00",
            "2024-01-01",
            Refusal.INCOMPLETE,
        ),
        (
            "AWS4-HMAC-SHA256 Credential=K/20240101/us-east-1/aws4_request, "
            "SignedHeaders=host, Signature=00",
            "20240101T000000Z",
            Refusal.INCOMPLETE,
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={KEY}/20240101/us-east-1/s/aws4_request, "
            "SignedHeaders=content-type, Signature=00",
            "20240101T000000Z",
            Refusal.INCOMPLETE,
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={KEY}/20240101/us-east-1/s/other, "
            "SignedHeaders=host, Signature=00",
            "20240101T000000Z",
            Refusal.INCOMPLETE,
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={KEY}/20240102/us-east-1/s/aws4_request, "
            "SignedHeaders=host, Signature=00",
            "20240101T000000Z",
            Refusal.BAD_SIGNATURE,
        ),
    ],
)
def test_malformed_signatures(
    authorization: str | None, date: str | None, expected: Refusal
) -> None:
    headers = [(b"host", b"127.0.0.1:8484")]
    if authorization is not None:
        headers.append((b"authorization", authorization.encode()))
    if date is not None:
        headers.append((b"x-amz-date", date.encode()))
    with pytest.raises(AuthFailure) as caught:
        VERIFIER.check_headers("POST", b"/", b"", headers, now=1704067200.0)
    assert caught.value.kind is expected


def test_presigned_urls_are_refused_with_a_reason() -> None:
    with pytest.raises(AuthFailure) as caught:
        VERIFIER.check_headers("GET", b"/", b"X-Amz-Algorithm=AWS4-HMAC-SHA256", [])
    assert caught.value.kind is Refusal.INCOMPLETE
    assert "presigned" in caught.value.message
