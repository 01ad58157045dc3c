"""CloudWatch on moorage's port: the operation table, its protocols, ``/metrics``.

:class:`CloudWatch` builds the server's one
:class:`~moorage.monitoring.MetricStore` and
:class:`~moorage.monitoring.AlarmEvaluator`, the control services that
answer the operations (:mod:`moorage.control.alarms`,
:mod:`moorage.control.metrics`), and one model-driven
:class:`~moorage.api.json_protocol.JsonService` from botocore's ``cloudwatch``
model, served three ways:

- JSON 1.0 (``X-Amz-Target: GraniteServiceVersion20100801.<Op>``), what
  boto3 sends;
- RPC v2 CBOR (``POST /service/GraniteServiceVersion20100801/operation/<Op>``);
- the query protocol (form ``POST /`` with ``Action=<Op>``), what older
  botocore releases and AWS CLI v1 send.

The table below is explicit; an operation of the model that is not in it
answers ``NotImplemented`` (HTTP 501) naming it. :meth:`CloudWatch.start`
restores persisted alarms and runs the evaluator's loop as a background task;
``GET /metrics`` renders the store in Prometheus' text format.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from moorage.api.app import Routes
from moorage.api.http import Receive, Scope, Send, send_response
from moorage.api.json_protocol import Handler, JsonService
from moorage.api.query_protocol import QueryProtocol
from moorage.api.rpcv2_cbor import PATH_PREFIX, CborProtocol
from moorage.api.service_models import CLOUDWATCH
from moorage.control.alarms import AlarmsService
from moorage.control.context import ControlContext
from moorage.control.metrics import MetricsService
from moorage.monitoring import (
    PROMETHEUS_CONTENT_TYPE,
    AlarmEvaluator,
    MetricStore,
    render_prometheus,
)

log = logging.getLogger(__name__)

METRICS_PAGE = "/metrics"


def cloudwatch_handlers(alarms: AlarmsService, metrics: MetricsService) -> dict[str, Handler]:
    return {
        "PutMetricAlarm": alarms.put_metric_alarm,
        "DescribeAlarms": alarms.describe_alarms,
        "DeleteAlarms": alarms.delete_alarms,
        "SetAlarmState": alarms.set_alarm_state,
        "DescribeAlarmHistory": alarms.describe_alarm_history,
        "PutMetricData": metrics.put_metric_data,
        "GetMetricData": metrics.get_metric_data,
        "GetMetricStatistics": metrics.get_metric_statistics,
        "ListMetrics": metrics.list_metrics,
    }


def cloudwatch_service(alarms: AlarmsService, metrics: MetricsService) -> JsonService:
    return JsonService(
        CLOUDWATCH,
        cloudwatch_handlers(alarms, metrics),
        not_implemented_hint=(
            " moorage implements CloudWatch's metrics and metric alarms (docs/api-coverage.md)."
        ),
    )


class CloudWatch:
    """The metric store, the alarm evaluator, and the API that reaches them."""

    def __init__(self, ctx: ControlContext, *, max_body: int) -> None:
        self.metrics = MetricStore(ctx.clock)
        self.alarms = AlarmEvaluator(ctx.clock, self.metrics)
        self.alarm_service = AlarmsService(ctx, self.alarms)
        self.metric_service = MetricsService(ctx, self.metrics)
        self.service = cloudwatch_service(self.alarm_service, self.metric_service)
        self.cbor = CborProtocol(self.service, max_body=max_body)
        self.query = QueryProtocol(self.service, max_body=max_body)
        self._evaluating: asyncio.Task[None] | None = None

    def install(self, routes: Routes) -> None:
        """Register the three protocols and ``/metrics`` (before the app is built)."""
        routes.add_json_service(self.service)
        routes.prefixes.append((PATH_PREFIX, self.cbor))
        routes.query = self.query
        routes.pages[METRICS_PAGE] = self.metrics_page

    async def start(self) -> None:
        """Restore persisted alarms, then evaluate them every second in the background."""
        restored = self.alarm_service.restore()
        if restored:
            log.info("restored %d alarms", restored)
        self._evaluating = asyncio.create_task(self.alarms.run(), name="alarm-evaluator")

    async def stop(self) -> None:
        task, self._evaluating = self._evaluating, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def metrics_page(self, scope: Scope, receive: Receive, send: Send) -> None:
        text = render_prometheus(self.metrics)
        # The renderer escapes what it writes; "replace" is the last guard of the page.
        body = text.encode("utf-8", "replace")
        await send_response(send, 200, body, content_type=PROMETHEUS_CONTENT_TYPE.encode())
