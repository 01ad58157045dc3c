"""The scaled clock of ``moorage serve --clock-speed``: faster time that survives a restart."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from moorage.clock import ScaledClock


def test_time_runs_speed_times_faster_from_its_anchor() -> None:
    clock = ScaledClock(600.0, real_anchor=time.time() - 2.0, clock_anchor=1_000.0)
    assert clock.now() == pytest.approx(1_000.0 + 1_200.0, abs=60.0)


def test_a_restarted_server_continues_the_same_timeline(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    first = ScaledClock.persistent(path, 600.0)
    assert first.clock_anchor == pytest.approx(time.time(), abs=5.0)
    again = ScaledClock.persistent(path, 600.0)
    assert (again.real_anchor, again.clock_anchor) == (first.real_anchor, first.clock_anchor)
    # Pretend the first server started an hour of its time ago.
    path.write_text(
        json.dumps({"speed": 600.0, "real_anchor": time.time() - 6.0, "clock_anchor": 5_000.0})
    )
    resumed = ScaledClock.persistent(path, 600.0)
    assert resumed.now() == pytest.approx(5_000.0 + 3_600.0, abs=60.0)
    # Another speed starts a new timeline from the old one's present, never backwards.
    faster = ScaledClock.persistent(path, 60.0)
    assert faster.speed == 60.0
    assert faster.now() >= time.time()


def test_an_unreadable_anchor_file_starts_a_fresh_timeline(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    path.write_text("not json")
    clock = ScaledClock.persistent(path, 10.0)
    assert clock.now() == pytest.approx(time.time(), abs=5.0)
    assert json.loads(path.read_text())["speed"] == 10.0
    with pytest.raises(ValueError):
        ScaledClock(0.0, 0.0, 0.0)
