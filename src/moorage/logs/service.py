"""The CloudWatch Logs operations moorage answers, over its model servers' output.

Each handler takes the validated request (:mod:`moorage.api.validate`),
checks what the shapes cannot (one of ``logGroupName`` and
``logGroupIdentifier``; parameters that exclude each other), finds the
group's stream files (:mod:`moorage.logs.layout`), and reads them on a
worker thread, so that reading logs never holds up invocations on the event
loop. Every read is bounded (:mod:`moorage.logs.events`). Responses are
built here, member by member, for the output shapes.

A group or stream that has no file is ``ResourceNotFoundException`` with
CloudWatch's messages. The operation table is :mod:`moorage.api.logs_api`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from moorage.logs import filter_pattern
from moorage.logs.describe import (
    BY_NAME,
    GroupInfo,
    GroupQuery,
    StreamInfo,
    page_groups,
    page_streams,
)
from moorage.logs.errors import InvalidParameter, group_not_found, stream_not_found
from moorage.logs.events import FilterQuery, filter_events, get_events
from moorage.logs.layout import StreamFile, all_streams, group_streams
from moorage.logs.names import GroupName, LogArns, group_from_identifier, parse_group

Params = dict[str, Any]

# FilterLogEvents' startFromHead=false needs a startTime on or after this
# instant (2024-01-01T00:00:00Z), as AWS documents.
_DESCENDING_SINCE_MS = 1_704_067_200_000


class LogsService:
    """DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents."""

    def __init__(self, logs_root: Path, arns: LogArns) -> None:
        self.logs_root = logs_root
        self.arns = arns

    # -- groups and streams --------------------------------------------------------

    def _group(self, params: Params) -> GroupName:
        name = params.get("logGroupName")
        identifier = params.get("logGroupIdentifier")
        if name is not None and identifier is not None:
            raise InvalidParameter(
                "LogGroup name and LogGroup ARN are mutually exclusive parameters."
            )
        if name is None and identifier is None:
            raise InvalidParameter("Either logGroupName or logGroupIdentifier must be specified.")
        group = parse_group(name if name is not None else group_from_identifier(str(identifier)))
        if group is None:
            raise group_not_found()
        return group

    def _streams(self, group: GroupName) -> list[StreamFile]:
        streams = group_streams(self.logs_root, group)
        if not streams:
            raise group_not_found()
        return streams

    # -- DescribeLogGroups ---------------------------------------------------------

    async def describe_log_groups(self, params: Params) -> Params:
        prefix = params.get("logGroupNamePrefix")
        pattern = params.get("logGroupNamePattern")
        identifiers = params.get("logGroupIdentifiers")
        if prefix is not None and pattern is not None:
            raise InvalidParameter(
                "logGroupNamePrefix and logGroupNamePattern are mutually exclusive parameters."
            )
        if identifiers is not None and (prefix is not None or pattern is not None):
            raise InvalidParameter(
                "logGroupIdentifiers cannot be combined with logGroupNamePrefix or "
                "logGroupNamePattern."
            )
        query = GroupQuery(
            prefix,
            pattern,
            frozenset(group_from_identifier(i) for i in identifiers) if identifiers else None,
            params.get("limit"),
        )
        # Every group moorage writes is in the Standard class.
        if params.get("logGroupClass", "STANDARD") != "STANDARD":
            return {"logGroups": []}
        groups, token = await asyncio.to_thread(self._list_groups, query, params.get("nextToken"))
        brief = pattern is not None
        return {"logGroups": [self._group_wire(g, brief=brief) for g in groups], "nextToken": token}

    def _list_groups(
        self, query: GroupQuery, token: str | None
    ) -> tuple[list[GroupInfo], str | None]:
        groups: dict[GroupName, list[StreamFile]] = {}
        for stream in all_streams(self.logs_root):
            groups.setdefault(stream.group, []).append(stream)
        return page_groups(groups, query, token)

    def _group_wire(self, info: GroupInfo, *, brief: bool) -> Params:
        wire: Params = {
            "logGroupName": info.name,
            "creationTime": info.creation_time,
            "arn": self.arns.group_arn(info.name),
        }
        if not brief:
            wire.update(
                {
                    "metricFilterCount": 0,
                    "storedBytes": info.stored_bytes,
                    "logGroupClass": "STANDARD",
                    "logGroupArn": self.arns.group(info.name),
                }
            )
        return wire

    # -- DescribeLogStreams --------------------------------------------------------

    async def describe_log_streams(self, params: Params) -> Params:
        group = self._group(params)

        def run() -> tuple[list[StreamInfo], str | None]:
            return page_streams(
                self._streams(group),
                prefix=params.get("logStreamNamePrefix"),
                order_by=params.get("orderBy", BY_NAME),
                descending=bool(params.get("descending", False)),
                limit=params.get("limit"),
                token=params.get("nextToken"),
            )

        streams, token = await asyncio.to_thread(run)
        return {
            "logStreams": [self._stream_wire(group, s) for s in streams],
            "nextToken": token,
        }

    def _stream_wire(self, group: GroupName, info: StreamInfo) -> Params:
        return {
            "logStreamName": info.name,
            "creationTime": info.creation_time,
            "firstEventTimestamp": info.first_event,
            "lastEventTimestamp": info.last_event,
            "lastIngestionTime": info.last_event,
            "arn": self.arns.stream(group.name, info.name),
            # No longer supported for streams: AWS always reports zero.
            "storedBytes": 0,
        }

    # -- GetLogEvents ----------------------------------------------------------------

    async def get_log_events(self, params: Params) -> Params:
        group = self._group(params)
        name = params["logStreamName"]

        def run() -> Params:
            stream = next((s for s in self._streams(group) if s.stream == name), None)
            if stream is None:
                raise stream_not_found()
            try:
                page = get_events(
                    stream.path,
                    start_time=params.get("startTime"),
                    end_time=params.get("endTime"),
                    token=params.get("nextToken"),
                    start_from_head=bool(params.get("startFromHead", False)),
                    limit=params.get("limit"),
                )
            except FileNotFoundError:
                raise stream_not_found() from None
            return {
                "events": [
                    {
                        "timestamp": e.timestamp,
                        "message": e.text(),
                        "ingestionTime": e.timestamp,
                    }
                    for e in page.events
                ],
                "nextForwardToken": page.forward_token,
                "nextBackwardToken": page.backward_token,
            }

        return await asyncio.to_thread(run)

    # -- FilterLogEvents -------------------------------------------------------------

    async def filter_log_events(self, params: Params) -> Params:
        group = self._group(params)
        names = params.get("logStreamNames")
        prefix = params.get("logStreamNamePrefix")
        if names is not None and prefix is not None:
            raise InvalidParameter(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters."
            )
        start_from_head = bool(params.get("startFromHead", True))
        start_time = params.get("startTime")
        if not start_from_head and start_time is not None and start_time < _DESCENDING_SINCE_MS:
            raise InvalidParameter(
                "startFromHead false is supported only with a startTime on or after "
                "Jan 1, 2024 00:00:00 UTC."
            )
        query = FilterQuery(
            start_time,
            params.get("endTime"),
            filter_pattern.parse(params.get("filterPattern")),
            start_from_head,
            params.get("limit"),
        )

        def run() -> Params:
            streams = self._streams(group)
            if names is not None:
                wanted = set(names)
                streams = [s for s in streams if s.stream in wanted]
            elif prefix is not None:
                streams = [s for s in streams if s.stream.startswith(prefix)]
            page = filter_events(streams, query, params.get("nextToken"))
            return {
                "events": [
                    {
                        "logStreamName": found.stream,
                        "timestamp": found.event.timestamp,
                        "message": found.event.text(),
                        "ingestionTime": found.event.timestamp,
                        "eventId": found.event_id,
                    }
                    for found in page.events
                ],
                # No longer supported by AWS, which always answers an empty list.
                "searchedLogStreams": [],
                "nextToken": page.next_token,
            }

        return await asyncio.to_thread(run)
