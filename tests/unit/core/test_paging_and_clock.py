"""Paging tokens and the fake clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from moorage.clock import FakeClock
from moorage.control.paging import Listing, page
from moorage.errors import ValidationError


@dataclass(frozen=True)
class Item:
    name: str
    created: float


LISTING: Listing[Item] = Listing(
    name=lambda i: i.name,
    sort_keys={"Name": lambda i: i.name.lower(), "CreationTime": lambda i: i.created},
    default_sort="CreationTime",
)


def test_pages_are_stable_when_items_change() -> None:
    items = [Item(f"n{i}", float(i)) for i in range(5)]
    first = page(items, LISTING, {"MaxResults": 2})
    assert [i.name for i in first.items] == ["n4", "n3"]
    # An item added after the first page does not shift the next one.
    items.append(Item("n9", 9.0))
    second = page(items, LISTING, {"MaxResults": 2, "NextToken": first.next_token})
    assert [i.name for i in second.items] == ["n2", "n1"]
    third = page(items, LISTING, {"MaxResults": 2, "NextToken": second.next_token})
    assert [i.name for i in third.items] == ["n0"]
    assert third.next_token is None


def test_name_filter_and_sort() -> None:
    items = [Item("Beta", 1), Item("alpha", 2), Item("gamma", 3)]
    result = page(items, LISTING, {"SortBy": "Name", "SortOrder": "Ascending", "NameContains": "A"})
    assert [i.name for i in result.items] == ["alpha", "Beta", "gamma"]


def test_garbage_token() -> None:
    with pytest.raises(ValidationError):
        page([], LISTING, {"NextToken": "%%%"})


def test_fake_clock_wakes_sleepers_in_order() -> None:
    async def scenario() -> list[str]:
        clock = FakeClock(100.0)
        woke: list[str] = []

        async def sleeper(name: str, seconds: float) -> None:
            await clock.sleep(seconds)
            woke.append(f"{name}@{clock.now():.0f}")

        tasks = [
            asyncio.create_task(sleeper("late", 30)),
            asyncio.create_task(sleeper("early", 10)),
        ]
        await asyncio.sleep(0)
        clock.advance(15)
        await asyncio.sleep(0)
        assert woke == ["early@115"]
        clock.advance(60)
        await asyncio.gather(*tasks)
        return woke

    assert asyncio.run(scenario()) == ["early@115", "late@175"]
