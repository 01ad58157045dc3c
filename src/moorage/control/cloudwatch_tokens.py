"""CloudWatch's ``NextToken`` for DescribeAlarms, DescribeAlarmHistory and ListMetrics.

A token is the base64 JSON of the operation that issued it and the position
after the last item returned (a name, a sort key, a timestamp), never an
offset: items added or removed between pages neither shift nor repeat the
rest. A token that is not one of these, or that another operation issued,
is ``InvalidNextToken``, CloudWatch's code for it. ``GetMetricData`` has its
own tokens (:mod:`moorage.monitoring.metric_data`).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from moorage import json_limits
from moorage.monitoring import InvalidNextToken


def encode_token(operation: str, position: Any) -> str:
    raw = json.dumps({"op": operation, "after": position}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode("ascii")


def decode_token(operation: str, token: str) -> Any:
    """The position a token of ``operation`` carries; :class:`InvalidNextToken` otherwise."""
    try:
        decoded = json_limits.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError):
        raise InvalidNextToken("The service cannot decode the NextToken.") from None
    if not isinstance(decoded, dict) or decoded.get("op") != operation or "after" not in decoded:
        raise InvalidNextToken(f"The NextToken was not issued by {operation}.")
    return decoded["after"]
