"""Deployment timelines: the steps a rollout walks through, computed up front.

Pure. A :class:`Step` sets, for every variant, a :class:`Layout` — how many
old ("blue") and new ("green") instances run, how many of each take traffic
and the green share of the variant's traffic — then waits until every
instance of the layout is healthy, then waits ``wait_s`` (a *bake* when
``monitor`` is set: alarms are watched). The same steps drive the rollout
(:mod:`moorage.deploy.rollout`) and ``moorage plan``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from moorage.deploy.policy import BlueGreen, Policy, Rolling, Routing, Size


@dataclass(frozen=True)
class Layout:
    blue_target: int
    blue_active: int
    green_target: int
    green_active: int
    green_share: float

    def to_list(self) -> list[float]:
        return [
            self.blue_target,
            self.blue_active,
            self.green_target,
            self.green_active,
            self.green_share,
        ]

    @classmethod
    def from_list(cls, values: list[Any]) -> Layout:
        bt, ba, gt, ga, share = values
        return cls(int(bt), int(ba), int(gt), int(ga), float(share))


@dataclass(frozen=True)
class Fleet:
    """One variant's instance counts before (blue) and after (green) the update."""

    blue: int
    green: int


@dataclass(frozen=True)
class Step:
    name: str
    layouts: Mapping[str, Layout]
    wait_s: float = 0.0
    monitor: bool = False
    # From this step on the endpoint serves the new variants and weights.
    switch: bool = False
    # The variant status reported while the step's instances start.
    status: str = "ActivatingTraffic"
    labels: tuple[str, ...] = field(default_factory=tuple)

    def to_doc(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layouts": {k: v.to_list() for k, v in self.layouts.items()},
            "wait_s": self.wait_s,
            "monitor": self.monitor,
            "switch": self.switch,
            "status": self.status,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Step:
        return cls(
            name=str(doc["name"]),
            layouts={k: Layout.from_list(v) for k, v in doc["layouts"].items()},
            wait_s=float(doc["wait_s"]),
            monitor=bool(doc["monitor"]),
            switch=bool(doc["switch"]),
            status=str(doc["status"]),
        )


@dataclass(frozen=True)
class Terms:
    """How step names call a fleet's members: an endpoint's instances, a component's copies."""

    start: str  # verb for bringing members up
    stop: str  # verb for taking them down
    one: str  # after a count of 1
    some: str  # after any other count
    many: str  # the members in general
    old_fleet: str
    failed_start: str  # why a rollout rolls back when its new members cannot start

    def count(self, number: int, adjective: str) -> str:
        return f"{number} {adjective} {self.one if number == 1 else self.some}"


INSTANCES = Terms(
    "provision",
    "terminate",
    "instance(s)",
    "instance(s)",
    "instances",
    "the old fleet",
    "The new fleet could not be provisioned",
)
COPIES = Terms(
    "start",
    "stop",
    "copy",
    "copies",
    "copies",
    "the old copies",
    "The new copies could not be started",
)


def terms_for(kind: str) -> Terms:
    """The terms of a rollout of ``kind`` (an inference component's rolls copies)."""
    return COPIES if kind == "component" else INSTANCES


def _blue_only(fleet: Fleet) -> Layout:
    return Layout(fleet.blue, fleet.blue, 0, 0, 0.0)


def blue_green_steps(update: BlueGreen, fleets: Mapping[str, Fleet]) -> list[Step]:
    provision = {v: Layout(f.blue, f.blue, f.green, 0, 0.0) for v, f in fleets.items()}
    steps = [Step("Provision the new fleet", provision, status="Creating")]
    wait = float(update.wait_s)
    if update.routing is Routing.CANARY and update.canary is not None:
        canary = update.canary
        layouts = {}
        for v, f in fleets.items():
            count = canary.instances(f.green) if f.green else 0
            share = count / f.green if f.green else 0.0
            layouts[v] = Layout(f.blue, f.blue, f.green, count, share if f.blue else 1.0)
        steps.append(Step(f"Canary: {canary.describe()} of traffic", layouts, wait, True))
    elif update.routing is Routing.LINEAR and update.linear is not None:
        linear = update.linear
        counts = {v: linear.instances(f.green) if f.green else 0 for v, f in fleets.items()}
        rounds = max(
            (math.ceil(f.green / counts[v]) for v, f in fleets.items() if counts[v]), default=1
        )
        for k in range(1, rounds):
            layouts = {}
            for v, f in fleets.items():
                active = min(f.green, k * counts[v])
                share = active / f.green if f.green else 0.0
                blue_active = f.blue - round(f.blue * share)
                if share < 1.0 and f.blue:
                    blue_active = max(1, blue_active)
                layouts[v] = Layout(f.blue, blue_active, f.green, active, share)
            steps.append(Step(f"Linear step {k} of {rounds}", layouts, wait, True))
    full = {v: Layout(f.blue, 0, f.green, f.green, 1.0) for v, f in fleets.items()}
    steps.append(Step("All traffic to the new fleet", full, wait, True, switch=True))
    if update.termination_wait_s:
        steps.append(
            Step(
                "Wait before terminating the old fleet",
                full,
                float(update.termination_wait_s),
                status="Updating",
            )
        )
    done = {v: Layout(0, 0, f.green, f.green, 1.0) for v, f in fleets.items()}
    steps.append(Step("Terminate the old fleet", done, status="Deleting"))
    return steps


def rolling_steps(
    update: Rolling, fleets: Mapping[str, Fleet], terms: Terms = INSTANCES
) -> list[Step]:
    ((variant, fleet),) = fleets.items()
    batch = update.batch.instances(fleet.green)
    steps: list[Step] = []
    green = 0
    blue = fleet.blue
    number = 0
    while green < fleet.green:
        number += 1
        new_green = min(fleet.green, green + batch)
        steps.append(
            Step(
                f"Batch {number}: {terms.start} {terms.count(new_green - green, 'new')}",
                {variant: Layout(blue, blue, new_green, green, _share(green, blue))},
                status="Creating",
            )
        )
        new_blue = 0 if new_green == fleet.green else max(0, blue - batch)
        steps.append(
            Step(
                f"Batch {number}: shift traffic to the new {terms.many}",
                {
                    variant: Layout(
                        blue, new_blue, new_green, new_green, _share(new_green, new_blue)
                    )
                },
                float(update.wait_s),
                True,
                switch=new_green == fleet.green,
            )
        )
        steps.append(
            Step(
                f"Batch {number}: {terms.stop} {terms.count(blue - new_blue, 'old')}",
                {
                    variant: Layout(
                        new_blue, new_blue, new_green, new_green, _share(new_green, new_blue)
                    )
                },
                status="Deleting",
            )
        )
        green, blue = new_green, new_blue
    return steps


def _share(green_active: int, blue_active: int) -> float:
    total = green_active + blue_active
    return green_active / total if total else 0.0


def capacity_steps(changes: Mapping[str, tuple[int, int]]) -> list[Step]:
    """UpdateEndpointWeightsAndCapacities: ``variant → (current, desired)`` instance counts.

    Scale-out starts the new instances before they take traffic; scale-in
    takes instances out of traffic (they drain) before stopping them.
    """
    grow = {v: Layout(max(c, d), c, 0, 0, 0.0) for v, (c, d) in changes.items()}
    shift = {v: Layout(max(c, d), d, 0, 0, 0.0) for v, (c, d) in changes.items()}
    final = {v: Layout(d, d, 0, 0, 0.0) for v, (c, d) in changes.items()}
    return [
        Step("Provision instances", grow, status="Creating"),
        Step("Apply weights and capacities", shift, switch=True),
        Step("Terminate released instances", final, status="Deleting"),
    ]


def rollback_steps(
    current: Mapping[str, Layout],
    blue: Mapping[str, int],
    batch: Size | None,
    terms: Terms = INSTANCES,
) -> list[Step]:
    """From ``current`` back to the old fleet (``blue`` counts), ``batch`` instances at a time.

    Traffic moves back only to healthy old instances; new instances stop
    taking traffic before they stop.
    """
    steps: list[Step] = []
    layouts = dict(current)
    number = 0
    while any(
        layouts[v].blue_active < blue[v] or layouts[v].green_active > 0 or layouts[v].green_target
        for v in layouts
    ):
        number += 1
        restore = {}
        shift = {}
        retire = {}
        for v, now in layouts.items():
            size = batch.instances(blue[v]) if batch is not None and blue[v] else blue[v]
            size = max(size, 1)
            bt = min(blue[v], max(now.blue_target, now.blue_active + size))
            done = bt >= blue[v]
            ga = 0 if done else max(0, now.green_active - size)
            restore[v] = replace(now, blue_target=max(now.blue_target, bt))
            shift[v] = Layout(restore[v].blue_target, bt, now.green_target, ga, _share(ga, bt))
            retire[v] = Layout(bt, bt, ga, ga, _share(ga, bt))
        last = all(layout.blue_active >= blue[v] for v, layout in shift.items())
        many = terms.many
        steps.append(Step(f"Rollback {number}: restore old {many}", restore, status="Creating"))
        steps.append(
            Step(f"Rollback {number}: traffic back to {terms.old_fleet}", shift, switch=last)
        )
        steps.append(Step(f"Rollback {number}: {terms.stop} new {many}", retire, status="Deleting"))
        layouts = retire
    return steps


def plan_steps(
    policy: Policy, fleets: Mapping[str, Fleet], shadows: Mapping[str, Fleet] | None = None
) -> list[Step]:
    """The steps for the production ``fleets``, with the ``shadows`` following along."""
    if isinstance(policy.update, Rolling):
        steps = rolling_steps(policy.update, fleets)
    else:
        steps = blue_green_steps(policy.update, fleets)
    return with_shadows(steps, shadows or {})


def with_shadows(steps: list[Step], shadows: Mapping[str, Fleet]) -> list[Step]:
    """Add the shadow variants' fleets to production ``steps``, blue/green all at once.

    A shadow variant takes no caller traffic, so canary and linear shares
    and rolling batches mean nothing for it: its new fleet is provisioned
    with the first step (readiness is awaited with the production fleet's),
    takes over the mirrored requests when the endpoint switches to the new
    variants, and its old fleet stops with the last step.
    """
    if not shadows or not steps:
        return steps
    switch_at = next((i for i, s in enumerate(steps) if s.switch), len(steps) - 1)
    last = len(steps) - 1
    result = []
    for index, step in enumerate(steps):
        layouts = dict(step.layouts)
        for variant, fleet in shadows.items():
            if index < switch_at:
                layouts[variant] = Layout(fleet.blue, fleet.blue, fleet.green, 0, 0.0)
            elif index < last:
                layouts[variant] = Layout(fleet.blue, 0, fleet.green, fleet.green, 1.0)
            else:
                layouts[variant] = Layout(0, 0, fleet.green, fleet.green, 1.0)
        result.append(replace(step, layouts=layouts))
    return result


def total_wait_s(steps: list[Step]) -> float:
    return sum(step.wait_s for step in steps)


def blue_layouts(fleets: Mapping[str, Fleet]) -> dict[str, Layout]:
    return {v: _blue_only(f) for v, f in fleets.items()}
