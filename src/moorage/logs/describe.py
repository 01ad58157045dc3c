"""DescribeLogGroups and DescribeLogStreams: what exists, read from the stream files.

A group exists once one of its streams has a file (a copy of the endpoint
or component has started), and stays while the files do: like CloudWatch,
which keeps a deleted endpoint's log group, moorage keeps its logs. What a
listing says about a stream (first and last event times) is read from the
first and last lines of its file; a group's creation time is its oldest
stream's. Pages are sorted (groups by name; streams by name or by last
event time) and their tokens name the last item returned
(:mod:`moorage.logs.tokens`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from moorage.logs.errors import InvalidParameter
from moorage.logs.layout import StreamFile
from moorage.logs.names import GroupName
from moorage.logs.stream_file import OpenStream
from moorage.logs.tokens import decode, encode, invalid_token

DEFAULT_LIMIT = 50
INFO_BLOCK = 4096
BY_NAME = "LogStreamName"
BY_LAST_EVENT = "LastEventTime"


@dataclass(frozen=True)
class StreamInfo:
    name: str
    creation_time: int
    first_event: int | None
    last_event: int | None


@dataclass(frozen=True)
class GroupInfo:
    name: str
    creation_time: int
    stored_bytes: int


def stream_info(stream: StreamFile) -> StreamInfo:
    """First and last event times of ``stream`` (its file's change time if it has none)."""
    try:
        # Small blocks: only the first and last lines are wanted.
        with OpenStream(stream.path, block=INFO_BLOCK) as opened:
            first = opened.first_event()
            last = opened.last_event()
        created = first.timestamp if first else int(os.stat(stream.path).st_ctime * 1000)
    except OSError:
        return StreamInfo(stream.stream, 0, None, None)
    return StreamInfo(
        stream.stream,
        created,
        first.timestamp if first else None,
        last.timestamp if last else None,
    )


def group_info(group: GroupName, streams: Sequence[StreamFile]) -> GroupInfo:
    infos = [stream_info(s) for s in streams]
    size = 0
    for stream in streams:
        try:
            size += os.stat(stream.path).st_size
        except OSError:
            continue
    created = min((i.creation_time for i in infos), default=0)
    return GroupInfo(group.name, created, size)


@dataclass(frozen=True)
class GroupQuery:
    prefix: str | None
    pattern: str | None
    names: frozenset[str] | None
    limit: int | None


def page_groups(
    groups: dict[GroupName, list[StreamFile]], query: GroupQuery, token: str | None
) -> tuple[list[GroupInfo], str | None]:
    """One DescribeLogGroups page: groups sorted by name (ASCII), after the token's."""
    names = sorted(groups, key=lambda g: g.name)
    if query.prefix is not None:
        names = [g for g in names if g.name.startswith(query.prefix)]
    if query.pattern:
        # Case-sensitive substring, as CloudWatch documents logGroupNamePattern.
        names = [g for g in names if query.pattern in g.name]
    if query.names is not None:
        names = [g for g in names if g.name in query.names]
    if token is not None:
        (after,) = decode(token, str)
        names = [g for g in names if g.name > after]
    limit = query.limit or DEFAULT_LIMIT
    page = names[:limit]
    infos = [group_info(g, groups[g]) for g in page]
    more = len(names) > limit
    return infos, encode(page[-1].name) if more and page else None


def page_streams(
    streams: Sequence[StreamFile],
    *,
    prefix: str | None,
    order_by: str,
    descending: bool,
    limit: int | None,
    token: str | None,
) -> tuple[list[StreamInfo], str | None]:
    """One DescribeLogStreams page."""
    if order_by == BY_LAST_EVENT and prefix is not None:
        raise InvalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
    chosen = [s for s in streams if prefix is None or s.stream.startswith(prefix)]
    wanted = limit or DEFAULT_LIMIT
    if order_by == BY_NAME:
        chosen.sort(key=lambda s: s.stream, reverse=descending)
        if token is not None:
            kind, was_descending, after = decode(token, str, int, str)
            if kind != "n" or bool(was_descending) != descending:
                raise invalid_token()
            chosen = [s for s in chosen if (s.stream < after if descending else s.stream > after)]
        page = [stream_info(s) for s in chosen[:wanted]]
        more = len(chosen) > wanted
        next_token = encode("n", int(descending), page[-1].name) if more and page else None
        return page, next_token
    infos = [stream_info(s) for s in chosen]
    infos.sort(key=_by_last_event, reverse=descending)
    if token is not None:
        kind, was_descending, at, after = decode(token, str, int, int, str)
        if kind != "t" or bool(was_descending) != descending:
            raise invalid_token()
        mark = (at, after)
        infos = [
            i
            for i in infos
            if (_by_last_event(i) < mark if descending else _by_last_event(i) > mark)
        ]
    page = infos[:wanted]
    if len(infos) > wanted and page:
        at, name = _by_last_event(page[-1])
        return page, encode("t", int(descending), at, name)
    return page, None


def _by_last_event(info: StreamInfo) -> tuple[int, str]:
    return (info.last_event if info.last_event is not None else -1, info.name)
