"""``GET /ui/api/logs?name=E``: the tail of an endpoint's model-server logs.

The newest :data:`TAIL` events of the endpoint's log group
(``/aws/sagemaker/Endpoints/E``: its variants' instances) and of the groups
of the inference components it hosts, merged in time order, read through
the CloudWatch Logs service (:mod:`moorage.logs.service`, on a worker
thread, bounded). Each line is cut at :data:`MAX_LINE` characters; lines
are model output, and the page writes them as text.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from moorage.dashboard.views.sources import Sources
from moorage.errors import ServiceError
from moorage.logs.names import component_group, endpoint_group

TAIL = 200
MAX_LINE = 2000
# The logs of the last day; FilterLogEvents needs a start time to read backwards.
SINCE_S = 86_400


async def _group_tail(sources: Sources, group: str, since_ms: int) -> list[dict[str, Any]]:
    params = {
        "logGroupName": group,
        "startFromHead": False,
        "startTime": since_ms,
        "limit": TAIL,
    }
    try:
        page = await sources.logs.filter_log_events(params)
    except ServiceError:
        return []  # no stream written yet
    return [
        {
            "group": group,
            "stream": str(event["logStreamName"]),
            "timestamp": int(event["timestamp"]),
            "message": _clip(str(event["message"])),
        }
        for event in page["events"]
    ]


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + "…"


async def endpoint_logs(sources: Sources, endpoint: str, components: Sequence[str]) -> Any:
    # Log lines are stamped with the wall clock, whatever the server's clock speed.
    since_ms = int((time.time() - SINCE_S) * 1000)
    groups = [endpoint_group(endpoint).name, *(component_group(c).name for c in components)]
    events: list[dict[str, Any]] = []
    for group in groups:
        events.extend(await _group_tail(sources, group, since_ms))
    events.sort(key=lambda e: (e["timestamp"], e["group"], e["stream"]))
    return {"endpoint": endpoint, "events": events[-TAIL:]}
