"""``moorage replay``: send captured requests to an endpoint again and compare the answers.

A moorage extension. :func:`replay` reads data-capture records
(:func:`moorage.capture.read_capture`: ``file://``, a path or ``s3://``, one
file or a whole prefix), sends each captured request body with its captured
content type (and its ``InferenceId``, when it had one) through boto3's
``sagemaker-runtime`` ``InvokeEndpoint`` — to the endpoint, or to one
variant with ``TargetVariant`` — and compares each answer with the captured
one. :func:`format_report` renders the :class:`ReplayReport` for people,
:meth:`ReplayReport.to_json` for programs. The command line is in
:mod:`moorage.cli`; ``docs/data-capture.md`` says what the comparison means.

An answer is *identical* when its content type is the captured one and its
body has the same bytes (or, for a JSON content type, parses to the same
JSON value); *different* otherwise; *failed* when the invocation returned an
error. A record captured without its output is replayed but *unchecked*; one
captured without its input cannot be replayed and is *skipped*. Capture
records carry no latency, so latencies are the replay's own, measured by the
client around each call.
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from moorage.auth.signing import Access
from moorage.capture import CapturedPayload, CaptureRecord, media_type

PREVIEW_CHARS = 200
DEFAULT_SHOWN = 5
_UNTYPED = "application/octet-stream"


class ReplayError(Exception):
    """The replay could not go on (the server cannot be reached)."""


@dataclass(frozen=True)
class Answer:
    content_type: str
    body: bytes

    def to_json(self) -> dict[str, str]:
        return {"contentType": self.content_type, "body": preview(self.body)}


@dataclass(frozen=True)
class Difference:
    source: str
    inference_id: str | None
    captured: Answer
    replayed: Answer

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "inferenceId": self.inference_id,
            "captured": self.captured.to_json(),
            "replayed": self.replayed.to_json(),
        }


@dataclass(frozen=True)
class Failure:
    source: str
    inference_id: str | None
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "inferenceId": self.inference_id, "error": self.error}


@dataclass
class ReplayReport:
    """What a replay found; ``differences`` and ``failures`` keep the first few only."""

    capture: str
    endpoint: str
    variant: str | None
    url: str
    records: int = 0
    identical: int = 0
    different: int = 0
    failed: int = 0
    unchecked: int = 0
    skipped: int = 0
    differences: list[Difference] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    first_time: float | None = None
    last_time: float | None = None

    @property
    def replayed(self) -> int:
        return self.identical + self.different + self.failed + self.unchecked

    @property
    def captured_span_s(self) -> float | None:
        if self.first_time is None or self.last_time is None:
            return None
        return self.last_time - self.first_time

    def latency_ms(self, q: float) -> float | None:
        """The ``q`` quantile (nearest rank) of the replay's latencies, in milliseconds."""
        if not self.latencies_s:
            return None
        ordered = sorted(self.latencies_s)
        rank = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
        return round(ordered[rank] * 1000, 3)

    def to_json(self) -> dict[str, Any]:
        span = self.captured_span_s
        return {
            "capture": self.capture,
            "endpoint": self.endpoint,
            "variant": self.variant,
            "url": self.url,
            "records": self.records,
            "replayed": self.replayed,
            "identical": self.identical,
            "different": self.different,
            "failed": self.failed,
            "unchecked": self.unchecked,
            "skipped": self.skipped,
            "latency_ms": {
                "p50": self.latency_ms(0.50),
                "p99": self.latency_ms(0.99),
                "max": self.latency_ms(1.0),
            },
            "replay_seconds": round(self.elapsed_s, 3),
            "captured_span_seconds": None if span is None else round(span),
            "differences": [d.to_json() for d in self.differences],
            "failures": [f.to_json() for f in self.failures],
        }


def runtime_client(access: Access, *, timeout_s: float = 70.0) -> Any:
    """A ``sagemaker-runtime`` client for the server; no retries, so each failure counts."""
    return access.client(
        "sagemaker-runtime",
        Config(
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=timeout_s,
        ),
    )


def replay(
    records: Iterable[CaptureRecord],
    client: Any,
    report: ReplayReport,
    *,
    limit: int | None = None,
    shown: int = DEFAULT_SHOWN,
) -> ReplayReport:
    """Replay ``records`` (at most ``limit`` of them) one at a time, filling ``report``."""
    started = time.perf_counter()
    for record in records:
        if limit is not None and report.replayed >= limit:
            break
        report.records += 1
        _note_time(report, record.time)
        if record.endpoint_input is None:
            report.skipped += 1
            continue
        _replay_one(record, record.endpoint_input, client, report, shown)
    report.elapsed_s = time.perf_counter() - started
    return report


def _replay_one(
    record: CaptureRecord,
    captured_input: CapturedPayload,
    client: Any,
    report: ReplayReport,
    shown: int,
) -> None:
    params: dict[str, Any] = {
        "EndpointName": report.endpoint,
        "Body": captured_input.body,
        "ContentType": captured_input.observed_content_type,
    }
    if report.variant is not None:
        params["TargetVariant"] = report.variant
    if record.inference_id:
        params["InferenceId"] = record.inference_id
    sent = time.perf_counter()
    try:
        answer = client.invoke_endpoint(**params)
        body: bytes = answer["Body"].read()
    except EndpointConnectionError as exc:
        raise ReplayError(f"cannot reach {report.url}: {exc}") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        _failed(record, report, shown, f"{error.get('Code')}: {error.get('Message')}")
        return
    except BotoCoreError as exc:
        _failed(record, report, shown, f"{type(exc).__name__}: {exc}")
        return
    report.latencies_s.append(time.perf_counter() - sent)
    captured = record.endpoint_output
    if captured is None:
        report.unchecked += 1
        return
    replayed = Answer(str(answer.get("ContentType") or _UNTYPED), body)
    expected = Answer(captured.observed_content_type, captured.body)
    if same_answer(expected, replayed):
        report.identical += 1
        return
    report.different += 1
    if len(report.differences) < shown:
        report.differences.append(
            Difference(record.source, record.inference_id, expected, replayed)
        )


def _failed(record: CaptureRecord, report: ReplayReport, shown: int, error: str) -> None:
    report.failed += 1
    if len(report.failures) < shown:
        report.failures.append(Failure(record.source, record.inference_id, error))


def _note_time(report: ReplayReport, at: float) -> None:
    if report.first_time is None or at < report.first_time:
        report.first_time = at
    if report.last_time is None or at > report.last_time:
        report.last_time = at


def same_answer(captured: Answer, replayed: Answer) -> bool:
    """Same content type, and the same bytes or (JSON) the same parsed value."""
    if captured.content_type != replayed.content_type:
        return False
    if captured.body == replayed.body:
        return True
    kind = media_type(captured.content_type)
    if kind.endswith("/json") or kind.endswith("+json"):
        try:
            return bool(json.loads(captured.body) == json.loads(replayed.body))
        except ValueError:
            return False
    return False


def preview(body: bytes) -> str:
    """The body as text (or ``base64:...`` when it is not UTF-8), cut to a few hundred chars."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = "base64:" + base64.b64encode(body).decode("ascii")
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "…"


def format_report(report: ReplayReport) -> str:
    target = report.endpoint + (f" (variant {report.variant})" if report.variant else "")
    lines = [
        f"Replayed {report.replayed} of {report.records} captured requests from "
        f"{report.capture} to endpoint {target} at {report.url} "
        f"in {report.elapsed_s:.1f} s.",
        f"  identical  {report.identical:6d}",
        f"  different  {report.different:6d}",
        f"  failed     {report.failed:6d}",
        f"  unchecked  {report.unchecked:6d}  (captured without the answer)",
        f"  skipped    {report.skipped:6d}  (captured without the request)",
    ]
    p50, p99, worst = report.latency_ms(0.5), report.latency_ms(0.99), report.latency_ms(1.0)
    if p50 is not None:
        lines.append(
            f"Replay latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms "
            "(capture records carry no latency to compare with)."
        )
    span = report.captured_span_s
    if span is not None:
        lines.append(f"The captured requests span {span:.0f} s of traffic.")
    if report.differences:
        lines.append(f"First {len(report.differences)} differences:")
        for diff in report.differences:
            lines.append(f"  {diff.source}" + _id(diff.inference_id))
            lines.append(
                f"    captured: {diff.captured.content_type}  {preview(diff.captured.body)}"
            )
            lines.append(
                f"    replayed: {diff.replayed.content_type}  {preview(diff.replayed.body)}"
            )
    if report.failures:
        lines.append(f"First {len(report.failures)} failures:")
        for failure in report.failures:
            lines.append(f"  {failure.source}{_id(failure.inference_id)}: {failure.error}")
    return "\n".join(lines)


def _id(inference_id: str | None) -> str:
    return f" (inferenceId {inference_id})" if inference_id else ""
