"""Object keys and the sampling decision."""

from __future__ import annotations

import calendar
import random
import uuid

from moorage.capture import CaptureConfig, Sampler, object_key
from moorage.capture.keys import Hour

FILE_ID = uuid.UUID("12345678-1234-4234-8234-123456789abc")
WHEN = calendar.timegm((2026, 11, 23, 10, 11, 12, 0, 0, 0)) + 0.045


def test_key_layout() -> None:
    assert object_key("my-endpoint", "AllTraffic", WHEN, FILE_ID) == (
        "my-endpoint/AllTraffic/2026/11/23/10/11-12-045-12345678-1234-4234-8234-123456789abc.jsonl"
    )


def test_key_pads_every_field() -> None:
    when = calendar.timegm((2027, 1, 2, 3, 4, 5, 0, 0, 0)) + 0.006
    key = object_key("e", "v", when, FILE_ID)
    assert key.startswith("e/v/2027/01/02/03/04-05-006-")


def test_keys_are_unique_without_a_given_id() -> None:
    assert object_key("e", "v", WHEN) != object_key("e", "v", WHEN)


def test_hours_order_and_path() -> None:
    assert Hour.of(WHEN).path == "2026/11/23/10"
    assert Hour.of(WHEN) < Hour.of(WHEN + 3600)
    assert Hour.of(WHEN) == Hour.of(WHEN + 60)


def config(percentage: int, *, enabled: bool = True) -> CaptureConfig:
    return CaptureConfig.of("s3://bucket", sampling_percentage=percentage, enabled=enabled)


def test_sampling_extremes_do_not_draw() -> None:
    def no_draw() -> float:
        raise AssertionError("no random draw expected")

    sampler = Sampler(no_draw)
    assert sampler.sampled(config(100))
    assert not sampler.sampled(config(0))
    assert not sampler.sampled(config(100, enabled=False))


def test_sampling_compares_the_draw_with_the_percentage() -> None:
    draws = iter([0.0, 0.299, 0.3, 0.999])
    sampler = Sampler(lambda: next(draws))
    assert [sampler.sampled(config(30)) for _ in range(4)] == [True, True, False, False]


def test_sampling_rate_is_close_to_the_percentage() -> None:
    sampler = Sampler(random.Random(7).random)
    hits = sum(sampler.sampled(config(20)) for _ in range(20_000))
    assert 3_700 < hits < 4_300
