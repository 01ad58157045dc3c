"""Capture to local directories (the file:// extension) under concurrent load."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from moorage.capture import CaptureConfig, CaptureReadError, CaptureWriter, read_capture
from moorage.clock import SystemClock


def test_concurrent_producers_lose_nothing_on_a_clean_stop(tmp_path: Path) -> None:
    capture = CaptureConfig.of(f"file://{tmp_path}", json_content_types=["application/json"])
    writer = CaptureWriter(SystemClock(), flush_interval_s=0.02, batch_records=50)
    writer.start()

    def produce(worker: int) -> None:
        for i in range(500):
            body = json.dumps({"worker": worker, "i": i}).encode()
            writer.offer(
                capture, "ep", f"v{worker % 2}", body, "application/json", b"{}", "application/json"
            )

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.close()

    stats = writer.stats
    assert stats.accepted + stats.dropped == 2000
    assert (stats.written, stats.failed, stats.pending) == (stats.accepted, 0, 0)
    records = list(read_capture(f"file://{tmp_path}"))
    assert len(records) == stats.written
    seen: dict[int, list[int]] = {}
    for record in records:
        assert record.endpoint_input is not None
        item = json.loads(record.endpoint_input.data)
        seen.setdefault(item["worker"], []).append(item["i"])
    # Each producer's records are in its own order, across files.
    for items in seen.values():
        assert items == sorted(items)


def test_a_destination_created_on_demand_and_read_as_a_path(tmp_path: Path) -> None:
    root = tmp_path / "does" / "not" / "exist" / "yet"
    capture = CaptureConfig.of(str(root))

    async def serve() -> CaptureWriter:
        writer = CaptureWriter(SystemClock())
        writer.start()
        writer.offer(capture, "ep", "v", b"\x00\x01", None, b"ok", "text/plain", "abc")
        await writer.aclose()
        return writer

    writer = asyncio.run(serve())
    assert writer.stats.written == 1
    (record,) = read_capture(str(root))
    assert record.inference_id == "abc"
    assert record.endpoint_input is not None and record.endpoint_input.body == b"\x00\x01"
    assert record.endpoint_input.observed_content_type == "application/octet-stream"
    (path,) = root.rglob("*.jsonl")
    assert [r.event_id for r in read_capture(f"file://{path}")] == [record.event_id]


def test_reader_skips_files_being_written_and_reports_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "ep").mkdir()
    (tmp_path / "ep" / ".00-00-000-x.jsonl.abc.partial").write_text("garbage")
    (tmp_path / "ep" / "notes.txt").write_text("garbage")
    assert list(read_capture(str(tmp_path))) == []
    with pytest.raises(CaptureReadError, match="no such file or directory"):
        list(read_capture(str(tmp_path / "missing")))
    with pytest.raises(CaptureReadError, match="not supported"):
        list(read_capture("ftp://host/x"))
