"""Helpers for data-capture tests: a model that answers by content type, capture configs.

The *mirror* model answers each content type with its own: JSON with JSON
(``{"tag": ..., "echo": <the document>}``), CSV with CSV (``tag,<the body>``,
typed ``text/csv; charset=utf-8``), anything else with the body reversed
plus the tag (typed ``application/x-reversed``). A JSON document
``{"stream": n}`` is answered as a stream of ``n`` chunks (``"break": true``
breaks it after them), ``{"fail": true}`` with an error. Models built with
different tags answer the same request differently, which is what replay
tests compare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.archives import write_archive

MIRROR = {
    "code/inference.py": """
        import json
        import os


        def model_fn(model_dir):
            with open(os.path.join(model_dir, "tag.txt")) as handle:
                return handle.read().strip()


        def transform_fn(model, data, content_type, accept):
            kind = content_type.split(";")[0].strip().lower()
            if kind == "application/json":
                doc = json.loads(data)
                if isinstance(doc, dict) and doc.get("fail"):
                    raise ValueError("the mirror failed on purpose")
                if isinstance(doc, dict) and "stream" in doc:
                    return _chunks(model, int(doc["stream"]), doc.get("break")), "text/plain"
                return json.dumps({"tag": model, "echo": doc}), "application/json"
            if kind == "text/csv":
                return f"{model},{data}", "text/csv; charset=utf-8"
            return bytes(reversed(data)) + model.encode(), "application/x-reversed"


        def _chunks(model, count, broken):
            for i in range(count):
                yield f"{model}:{i};"
            if broken:
                raise RuntimeError("the stream broke on purpose")
    """,
}

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def mirror_archive(path: Path, tag: str = "mirror") -> Path:
    return write_archive(path, {**MIRROR, "tag.txt": tag})


def data_capture_config(
    destination: str,
    *,
    percentage: int = 100,
    modes: tuple[str, ...] = ("InputAndOutput",),
    csv: tuple[str, ...] = (),
    json: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    """A DataCaptureConfig as CreateEndpointConfig takes it."""
    config: dict[str, Any] = {
        "InitialSamplingPercentage": percentage,
        "DestinationS3Uri": destination,
        "CaptureOptions": [{"CaptureMode": mode} for mode in modes],
        **extra,
    }
    if csv or json:
        header: dict[str, list[str]] = {}
        if csv:
            header["CsvContentTypes"] = list(csv)
        if json:
            header["JsonContentTypes"] = list(json)
        config["CaptureContentTypeHeader"] = header
    return config
