"""GetLogEvents and FilterLogEvents pages: ranges, limits and tokens as AWS defines them."""

from __future__ import annotations

from pathlib import Path

import pytest

from moorage.logs import filter_pattern
from moorage.logs.errors import InvalidParameter
from moorage.logs.events import EventsPage, FilterQuery, filter_events, get_events
from moorage.logs.layout import StreamFile
from moorage.logs.names import endpoint_group
from moorage.logs.record import Stamper
from moorage.logs.tokens import decode, encode, parse_position

T0 = 1_717_000_000_000


def write_events(path: Path, events: list[tuple[int, str]]) -> None:
    stamper = Stamper()
    with path.open("ab") as handle:
        handle.write(b"".join(stamper.line(ms, m.encode()) for ms, m in events))


@pytest.fixture
def stream(tmp_path: Path) -> Path:
    path = tmp_path / "AllTraffic.i-0123456789abcdef0.log"
    write_events(path, [(T0 + i * 1000, f"event {i}") for i in range(10)])
    return path


def messages(page: EventsPage) -> list[str]:
    return [e.text() for e in page.events]


def get(
    path: Path,
    *,
    start_time: int | None = None,
    end_time: int | None = None,
    token: str | None = None,
    start_from_head: bool = False,
    limit: int | None = None,
) -> EventsPage:
    return get_events(
        path,
        start_time=start_time,
        end_time=end_time,
        token=token,
        start_from_head=start_from_head,
        limit=limit,
    )


def test_without_a_token_the_newest_events_come_oldest_first(stream: Path) -> None:
    page = get(stream, limit=3)
    assert messages(page) == ["event 7", "event 8", "event 9"]
    assert messages(get(stream, limit=3, start_from_head=True)) == [
        "event 0",
        "event 1",
        "event 2",
    ]


def test_forward_paging_ends_with_the_same_token_back(stream: Path) -> None:
    page = get(stream, limit=4, start_from_head=True)
    seen = messages(page)
    token = page.forward_token
    while True:
        page = get(stream, limit=4, token=token)
        if page.forward_token == token:
            assert messages(page) == []
            break
        seen += messages(page)
        token = page.forward_token
    assert seen == [f"event {i}" for i in range(10)]
    # New events arrive: the same token now reads them.
    write_events(stream, [(T0 + 20_000, "late")])
    page = get(stream, token=token)
    assert messages(page) == ["late"]
    assert page.forward_token != token


def test_backward_paging_ends_with_the_same_token_back(stream: Path) -> None:
    page = get(stream, limit=4)
    seen = messages(page)
    token = page.backward_token
    while True:
        page = get(stream, limit=4, token=token)
        if page.backward_token == token:
            assert messages(page) == []
            break
        seen = messages(page) + seen
        token = page.backward_token
    assert seen == [f"event {i}" for i in range(10)]


def test_tokens_look_like_cloudwatch_tokens(stream: Path) -> None:
    page = get(stream)
    for token in (page.forward_token, page.backward_token):
        direction, digits = token.split("/")
        assert direction in "fb" and len(digits) == 56 and digits.isdigit()


def test_the_time_range_is_start_inclusive_end_exclusive(stream: Path) -> None:
    page = get(stream, start_time=T0 + 2000, end_time=T0 + 5000, start_from_head=True)
    assert messages(page) == ["event 2", "event 3", "event 4"]
    page = get(stream, start_time=T0 + 2000, end_time=T0 + 5000)
    assert messages(page) == ["event 2", "event 3", "event 4"]
    assert messages(get(stream, start_time=T0 + 50_000)) == []


def test_an_empty_stream_answers_zero_tokens(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    page = get(path)
    assert messages(page) == []
    assert page.forward_token == "f/" + "0" * 56
    assert page.backward_token == "b/" + "0" * 56


@pytest.mark.parametrize("token", ["f/12", "x/" + "0" * 56, "f/" + "0" * 55 + "7", "nonsense"])
def test_tokens_that_are_not_positions_are_invalid(stream: Path, token: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        get(stream, token=token)
    assert caught.value.message == "The specified nextToken is invalid."


def test_a_page_holds_at_most_one_megabyte(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    big = "x" * 200_000
    write_events(path, [(T0 + i, f"{i}{big}") for i in range(8)])
    page = get(path, start_from_head=True)
    assert len(page.events) == 5
    assert sum(len(e.message) + 26 for e in page.events) <= 1_048_576
    rest = get(path, token=page.forward_token)
    assert len(rest.events) == 3


def test_position_tokens_round_trip() -> None:
    position = parse_position("b/" + "0" * 50 + "123456")
    assert (position.direction, position.offset) == ("b", 123456)
    assert position.token() == "b/" + "0" * 50 + "123456"
    assert decode(encode("a", 1, "b"), str, int, str) == ["a", 1, "b"]
    for bad in ("m1.", "m1.!!!", encode("a"), encode(True), "zzz"):
        with pytest.raises(InvalidParameter):
            decode(bad, int)


# -- FilterLogEvents ---------------------------------------------------------------


def streams_of(tmp_path: Path) -> list[StreamFile]:
    """Three streams whose events interleave, with equal timestamps across streams."""
    found = []
    for name, offset in (("a", 0), ("b", 1), ("c", 0)):
        path = tmp_path / f"v.i-0123456789abcdef{name}.log"
        write_events(path, [(T0 + i * 2 + offset, f"{name} {i}") for i in range(20)])
        found.append(StreamFile(endpoint_group("ep"), f"v/i-0123456789abcdef{name}", path))
    return found


def query(
    pattern: str = "",
    *,
    start_time: int | None = None,
    end_time: int | None = None,
    start_from_head: bool = True,
    limit: int | None = None,
) -> FilterQuery:
    return FilterQuery(start_time, end_time, filter_pattern.parse(pattern), start_from_head, limit)


def all_pages(streams: list[StreamFile], q: FilterQuery, scan_bytes: int = 1 << 24) -> list[str]:
    seen: list[str] = []
    token = None
    for _ in range(1000):
        page = filter_events(streams, q, token, scan_bytes=scan_bytes)
        seen += [e.event.text() for e in page.events]
        token = page.next_token
        if token is None:
            return seen
    raise AssertionError("paging did not end")


def test_events_interleave_by_time_then_stream(tmp_path: Path) -> None:
    streams = streams_of(tmp_path)
    page = filter_events(streams, query(), None)
    assert page.next_token is None
    texts = [e.event.text() for e in page.events]
    assert texts[:6] == ["a 0", "c 0", "b 0", "a 1", "c 1", "b 1"]
    assert len(texts) == 60
    stamps = [e.event.timestamp for e in page.events]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize("limit", [1, 2, 5, 7, 60])
def test_paging_with_a_limit_returns_every_event_once_in_order(tmp_path: Path, limit: int) -> None:
    streams = streams_of(tmp_path)
    everything = [e.event.text() for e in filter_events(streams, query(), None).events]
    assert all_pages(streams, query(limit=limit)) == everything
    backwards = all_pages(streams, query(limit=limit, start_from_head=False))
    assert backwards == everything[::-1]


def test_a_scan_budget_gives_partial_pages_that_still_cover_everything(tmp_path: Path) -> None:
    streams = streams_of(tmp_path)
    q = query('?" 7" ?" 13"')
    expected = [e.event.text() for e in filter_events(streams, q, None).events]
    assert expected == ["a 7", "c 7", "b 7", "a 13", "c 13", "b 13"]
    first = filter_events(streams, q, None, scan_bytes=100)
    assert first.events == () and first.next_token is not None
    assert all_pages(streams, q, scan_bytes=100) == expected


def test_the_time_range_is_inclusive_at_both_ends(tmp_path: Path) -> None:
    streams = streams_of(tmp_path)
    page = filter_events(streams, query(start_time=T0 + 4, end_time=T0 + 5), None)
    assert [e.event.text() for e in page.events] == ["a 2", "c 2", "b 2"]


def test_event_ids_are_unique_and_stable(tmp_path: Path) -> None:
    streams = streams_of(tmp_path)
    first = [e.event_id for e in filter_events(streams, query(), None).events]
    again = [e.event_id for e in filter_events(streams, query(), None).events]
    assert first == again
    assert len(set(first)) == 60
    assert all(len(i) == 56 and i.isdigit() for i in first)


def test_a_foreign_token_is_invalid(tmp_path: Path) -> None:
    streams = streams_of(tmp_path)
    for token in ("f/" + "0" * 56, encode("f", 1, "v/i-0123456789abcdefa", 3), encode("x", 1)):
        with pytest.raises(InvalidParameter):
            filter_events(streams, query(), token)
