"""``moorage logs``' own parsing and printing."""

from __future__ import annotations

import argparse

import pytest

from moorage.cli.logs import duration, format_event, group_name


def test_durations() -> None:
    assert duration("30s") == 30
    assert duration("10m") == 600
    assert duration("2h") == 7200
    assert duration("1d") == 86400
    assert duration("1w") == 604800
    for bad in ("", "10", "m", "1.5h", "-1m", "10 minutes"):
        with pytest.raises(argparse.ArgumentTypeError):
            duration(bad)


def test_an_event_is_one_line_with_its_utc_time_and_stream() -> None:
    event = {"timestamp": 1_717_000_000_007, "logStreamName": "AllTraffic/i-0", "message": "hi\n"}
    assert format_event(event) == "2024-05-29T16:26:40.007Z AllTraffic/i-0 hi"


def test_groups() -> None:
    assert group_name("ep", None) == "/aws/sagemaker/Endpoints/ep"
    assert group_name("ep", "llama") == "/aws/sagemaker/InferenceComponents/llama"
