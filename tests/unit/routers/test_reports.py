"""A router's report: every invocation it answered reaches the server's observer once."""

from __future__ import annotations

import json

from moorage.fleet.base import Copy, CopySpec
from moorage.routers.reports import Reports, replay
from moorage.routers.wire import encode_line


class Recorded:
    """Keeps what an InvocationObserver is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def invoked(
        self,
        endpoint: str,
        variant: str,
        config_name: str | None,
        status: int,
        model_latency_s: float,
        overhead_s: float,
        instances: int = 0,
    ) -> None:
        self.calls.append(
            ("v", endpoint, variant, config_name, status, model_latency_s, overhead_s, instances)
        )

    def component_invoked(
        self, component: str, copies: int, status: int, model_latency_s: float, overhead_s: float
    ) -> None:
        self.calls.append(("c", component, copies, status, model_latency_s, overhead_s))


def test_invocations_arrive_once_each_with_their_values() -> None:
    copy = Copy(CopySpec("c-1", "ep", "AllTraffic", "img", None))
    reports = Reports(lambda: {"c-1": copy})
    assert reports.take() is None
    sent = [
        ("v", "ep", "AllTraffic", "cfg-1", 200, 0.0012, 0.0003, 2),
        ("v", "ep", "AllTraffic", None, 424, 60.0, 0.0001, 2),
        ("v", "ep", "AllTraffic", "cfg-1", 200, 0.5, 1e-6, 2),
        ("v", "ep", "B", "cfg-1", 500, 0.25, 0.002, 0),
    ]
    for call in sent:
        reports.invoked(*call[1:])  # type: ignore[arg-type]
    reports.component_invoked("comp", 3, 200, 0.01, 0.001)
    copy.inflight = 2
    message = reports.take()
    assert message is not None
    assert message["inflight"] == {"c-1": 2}
    got = Recorded()
    replay(json.loads(encode_line(message)), got)
    assert sorted(got.calls, key=repr) == sorted(
        [*sent, ("c", "comp", 3, 200, 0.01, 0.001)], key=repr
    )
    # Nothing twice; then only what changed: the copy's requests have ended.
    copy.inflight = 0
    message = reports.take()
    assert message is not None and message["inflight"] == {"c-1": 0}
    again = Recorded()
    replay(message, again)
    assert again.calls == []
    assert reports.take() is None
