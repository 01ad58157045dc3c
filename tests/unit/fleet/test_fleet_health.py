"""Counting failed health checks: when a copy becomes unhealthy."""

from __future__ import annotations

from typing import Any

import pytest

from moorage.fleet.health import FailedPings, HealthPolicy


def test_a_copy_is_unhealthy_after_the_policys_failures_in_a_row() -> None:
    pings = FailedPings(HealthPolicy(failures=3))
    assert pings.record("a", "/ping answered 500: stuck") is None
    assert pings.record("a", "/ping did not answer within 2 s") is None
    assert pings.failing("a") == 2
    reason = pings.record("a", "/ping answered 500: stuck")
    assert reason == "failed 3 health checks in a row (last: /ping answered 500: stuck)"
    # Counted afresh afterwards (a copy id is never reused, but the count must not leak).
    assert pings.failing("a") == 0


def test_one_good_ping_clears_the_count() -> None:
    pings = FailedPings(HealthPolicy(failures=2))
    assert pings.record("a", "refused") is None
    assert pings.record("a", None) is None
    assert pings.record("a", "refused") is None
    assert pings.failing("a") == 1


def test_copies_are_counted_apart_and_forgotten_when_no_longer_checked() -> None:
    pings = FailedPings(HealthPolicy(failures=2))
    pings.record("a", "refused")
    pings.record("b", "refused")
    pings.retain({"b"})
    assert pings.failing("a") == 0
    assert pings.record("b", "refused") is not None


@pytest.mark.parametrize("policy", [{"interval_s": 0}, {"timeout_s": -1}, {"failures": 0}])
def test_a_policy_that_could_never_or_always_fire_is_refused(policy: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        HealthPolicy(**policy)
