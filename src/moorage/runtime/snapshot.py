"""Immutable routing snapshots: endpoint → variant → group → copies.

A *group* is the set of instances of one variant built from one endpoint
config (during a blue/green update a variant has a blue and a green group);
``share`` is the fraction of the variant's traffic the group receives.
Snapshots never change once built, so what every request asks of them (the
groups and variants that take traffic) is computed once, on first use.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from moorage.capture import CaptureConfig
from moorage.domain.endpoint_config import Routing
from moorage.fleet.base import Copy
from moorage.runtime.serverless_gate import ServerlessGate


@dataclass(frozen=True)
class GroupRoute:
    config_name: str
    share: float
    copies: tuple[Copy, ...]
    # The config's parsed DataCaptureConfig (moorage.runtime.capture), if any.
    capture: CaptureConfig | None = None


@dataclass(frozen=True)
class VariantRoute:
    name: str
    weight: float
    routing: Routing
    groups: tuple[GroupRoute, ...]
    # The inference component these copies serve, when routed by InferenceComponentName.
    component: str | None = None
    # A serverless variant's admission (MaxConcurrency, demand); None for instances.
    serverless: ServerlessGate | None = field(default=None, compare=False)

    @cached_property
    def live_groups(self) -> tuple[GroupRoute, ...]:
        """Groups that take traffic: with copies and a share above zero."""
        return tuple(g for g in self.groups if g.copies and g.share > 0)

    @property
    def serving(self) -> bool:
        return bool(self.live_groups)

    @cached_property
    def hosted(self) -> bool:
        """Whether a copy runs a multi-model container or several containers (runtime/hosted.py)."""
        return any(
            c.spec.multi_model is not None or bool(c.spec.containers)
            for g in self.groups
            for c in g.copies
        )

    @cached_property
    def capturing(self) -> bool:
        """Whether any group's config captures data."""
        return any(g.capture is not None and g.capture.enabled for g in self.groups)

    def group_of(self, copy: Copy) -> GroupRoute | None:
        """The group ``copy`` belongs to (the config that serves through it)."""
        for group in self.groups:
            if copy in group.copies:
                return group
        return None

    def pick_group(self, rng: random.Random) -> GroupRoute | None:
        live = self.live_groups
        if not live:
            return None
        if len(live) == 1:
            return live[0]
        total = sum(g.share for g in live)
        point = rng.random() * total
        for group in live:
            point -= group.share
            if point < 0:
                return group
        return live[-1]

    def pick_copy(self, rng: random.Random, exclude: Copy | None = None) -> Copy | None:
        group = self.pick_group(rng)
        if group is None:
            return None
        return pick_copy(group.copies, self.routing, rng, exclude)


def pick_copy(
    copies: tuple[Copy, ...], routing: Routing, rng: random.Random, exclude: Copy | None = None
) -> Copy | None:
    candidates = copies if exclude is None else tuple(c for c in copies if c is not exclude)
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    if routing is Routing.RANDOM:
        return candidates[rng.randrange(len(candidates))]
    # Least outstanding requests; start at a random offset so ties spread.
    start = rng.randrange(len(candidates))
    best = candidates[start]
    for i in range(1, len(candidates)):
        copy = candidates[(start + i) % len(candidates)]
        if copy.inflight < best.inflight:
            best = copy
    return best


@dataclass(frozen=True)
class ShadowRoute:
    """A shadow variant and the fraction of production requests copied to it."""

    variant: VariantRoute
    fraction: float


def sampling_fraction(shadow_weight: float, production_weight: float) -> float:
    """The share of production requests a shadow variant receives.

    A shadow's weight counts relative to the production variant's, as
    production weights count relative to each other: a shadow weighted 0.5
    beside a production variant weighted 1 gets a copy of half the requests;
    a shadow weighted as much as production or more, every request.
    """
    if production_weight <= 0:
        return 0.0
    return max(0.0, min(1.0, shadow_weight / production_weight))


@dataclass(frozen=True)
class EndpointRoute:
    name: str
    status: str
    variants: tuple[VariantRoute, ...]
    component_based: bool = False
    by_variant: Mapping[str, VariantRoute] = field(default_factory=dict)
    # Shadow variants: never picked for an answer, mirrored to (moorage.runtime.shadow).
    shadows: tuple[ShadowRoute, ...] = ()

    @classmethod
    def build(
        cls,
        name: str,
        status: str,
        variants: tuple[VariantRoute, ...],
        *,
        component_based: bool,
        shadows: tuple[ShadowRoute, ...] = (),
    ) -> EndpointRoute:
        return cls(name, status, variants, component_based, {v.name: v for v in variants}, shadows)

    @cached_property
    def live_variants(self) -> tuple[VariantRoute, ...]:
        """Variants that take traffic: with a weight above zero and a serving group.

        A serverless variant takes traffic without a copy too: the request
        waits for one to start (:mod:`moorage.runtime.hold`).
        """
        return tuple(
            v for v in self.variants if v.weight > 0 and (v.serving or v.serverless is not None)
        )

    def pick_variant(self, rng: random.Random) -> VariantRoute | None:
        live = self.live_variants
        if not live:
            return None
        if len(live) == 1:
            return live[0]
        total = sum(v.weight for v in live)
        point = rng.random() * total
        for variant in live:
            point -= variant.weight
            if point < 0:
                return variant
        return live[-1]
