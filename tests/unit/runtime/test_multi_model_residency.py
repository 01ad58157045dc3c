"""Which copy serves a multi-model request, and which models make room (pure pieces)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from moorage.errors import ValidationError
from moorage.runtime.multi_model.names import check_target, container_name, model_url
from moorage.runtime.multi_model.residency import HOT_INFLIGHT, Residency, Resident, choose

MIB = 1024 * 1024


def resident(target: str, size: int = MIB, in_use: int = 0) -> Resident:
    return Resident(target, container_name(target), size, 0.0, 0.0, in_use=in_use)


@dataclass
class FakeCopy:
    name: str
    inflight: int = 0
    residency: Residency = field(default_factory=lambda: Residency(10 * MIB))


def pick(copies: list[FakeCopy], target: str) -> FakeCopy | None:
    return choose(
        copies,
        target,
        residency=lambda c: c.residency,
        holds=lambda c: target in c.residency,
        inflight=lambda c: c.inflight,
    )


def test_least_recently_used_idle_models_make_room_oldest_first() -> None:
    residency = Residency(3 * MIB)
    for name in ("a", "b", "c"):
        residency.add(resident(name))
    residency.touch("a", 1.0)  # now b, c, a from oldest to newest
    victims = residency.victims(MIB, keep="d")
    assert victims is not None and [v.target for v in victims] == ["b"]
    victims = residency.victims(2 * MIB)
    assert victims is not None and [v.target for v in victims] == ["b", "c"]
    assert residency.victims(0) == []


def test_models_in_use_and_the_kept_one_are_never_victims() -> None:
    residency = Residency(3 * MIB)
    residency.add(resident("a", in_use=1))
    residency.add(resident("b"))
    residency.add(resident("c"))
    victims = residency.victims(MIB, keep="b")
    assert victims is not None and [v.target for v in victims] == ["c"]
    # Only c can go: 2 MiB cannot be freed.
    assert residency.victims(2 * MIB, keep="b") is None


def test_an_overfull_copy_sheds_down_to_its_budget() -> None:
    residency = Residency(2 * MIB)
    for name in ("a", "b", "c"):
        residency.add(resident(name))
    victims = residency.victims(0, keep="c")
    assert victims is not None and [v.target for v in victims] == ["a"]


def test_a_copy_holding_the_model_serves_it() -> None:
    one, two = FakeCopy("one", inflight=2), FakeCopy("two")
    two_models = two.residency
    one.residency.add(resident("m"))
    assert pick([one, two], "m") is one
    two_models.add(resident("m"))
    assert pick([one, two], "m") is two  # both hold it: the less busy one


def test_a_model_nobody_holds_goes_to_the_least_loaded_copy_with_most_room() -> None:
    busy, full, empty = FakeCopy("busy", 3), FakeCopy("full"), FakeCopy("empty")
    full.residency.add(resident("x", 8 * MIB))
    assert pick([busy, full, empty], "m") is empty
    assert pick([busy, full], "m") is full
    assert pick([], "m") is None


def test_a_hot_model_spreads_to_an_idler_copy() -> None:
    holder, idle = FakeCopy("holder", HOT_INFLIGHT), FakeCopy("idle", 1)
    holder.residency.add(resident("m"))
    assert pick([holder, idle], "m") is idle
    holder.inflight = HOT_INFLIGHT - 1
    assert pick([holder, idle], "m") is holder
    # Every copy holds it: the least busy one, however busy.
    holder.inflight = idle.inflight = HOT_INFLIGHT + 3
    idle.residency.add(resident("m"))
    assert pick([holder, idle], "m") in (holder, idle)


def test_target_model_urls_join_the_prefix() -> None:
    assert model_url("s3://bucket/models/", "a/m.tar.gz") == "s3://bucket/models/a/m.tar.gz"
    assert model_url("s3://bucket/models", "m.tar.gz") == "s3://bucket/models/m.tar.gz"
    assert model_url("s3://bucket", "m.tar.gz") == "s3://bucket/m.tar.gz"
    assert model_url("file:///srv/models/", "a b.tar.gz") == "file:///srv/models/a%20b.tar.gz"
    assert model_url("/srv/models", "x/m.tar.gz") == "/srv/models/x/m.tar.gz"


@pytest.mark.parametrize(
    "target",
    ["../escape.tar.gz", "a/../../b.tar.gz", "/abs.tar.gz", "a\\b", "dir/", "./m", "a\x01"],
)
def test_target_models_that_leave_the_prefix_are_refused(target: str) -> None:
    with pytest.raises(ValidationError, match="TargetModel"):
        check_target(target)


def test_container_names_are_opaque_and_url_safe() -> None:
    name = container_name("customers/acme/model v2.tar.gz")
    assert name == container_name("customers/acme/model v2.tar.gz")
    assert name != container_name("customers/acme/model v3.tar.gz")
    assert name.replace("-", "").isalnum()
    check_target("customers/acme/model v2.tar.gz")
