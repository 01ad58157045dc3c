"""An endpoint update in progress: the rollout plus what it updates from and to.

Stored as the endpoint's ``deployment`` document. Besides the
:class:`~moorage.deploy.rollout.Rollout` it records, per variant, the group
ids of the old (blue) and new (green) fleets, the instance types, and the
variant states (weights, counts) before and after, so that every pass can
turn the rollout's current layout into the endpoint's groups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moorage.deploy.rollout import Phase, Rollout
from moorage.deploy.timeline import Layout
from moorage.domain.endpoint import Endpoint, EndpointStatus, Group, VariantState


@dataclass(frozen=True)
class FleetIds:
    blue: str | None
    green: str | None
    blue_type: str
    green_type: str

    def to_list(self) -> list[str | None]:
        return [self.blue, self.green, self.blue_type, self.green_type]

    @classmethod
    def from_list(cls, values: list[Any]) -> FleetIds:
        blue, green, blue_type, green_type = values
        return cls(blue, green, str(blue_type), str(green_type))


@dataclass(frozen=True)
class Deployment:
    rollout: Rollout
    old_config: str
    new_config: str
    fleets: Mapping[str, FleetIds]
    old_variants: tuple[VariantState, ...]
    new_variants: tuple[VariantState, ...]
    deployment_config: Mapping[str, Any] | None

    def to_doc(self) -> dict[str, Any]:
        return {
            "rollout": self.rollout.to_doc(),
            "old_config": self.old_config,
            "new_config": self.new_config,
            "fleets": {k: v.to_list() for k, v in self.fleets.items()},
            "old_variants": [v.to_doc() for v in self.old_variants],
            "new_variants": [v.to_doc() for v in self.new_variants],
            "deployment_config": self.deployment_config,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Deployment:
        return cls(
            rollout=Rollout.from_doc(doc["rollout"]),
            old_config=str(doc["old_config"]),
            new_config=str(doc["new_config"]),
            fleets={k: FleetIds.from_list(v) for k, v in doc["fleets"].items()},
            old_variants=tuple(VariantState.from_doc(v) for v in doc["old_variants"]),
            new_variants=tuple(VariantState.from_doc(v) for v in doc["new_variants"]),
            deployment_config=doc.get("deployment_config"),
        )

    def with_rollout(self, rollout: Rollout) -> Deployment:
        return Deployment(
            rollout,
            self.old_config,
            self.new_config,
            self.fleets,
            self.old_variants,
            self.new_variants,
            self.deployment_config,
        )

    # -- from layouts to groups ----------------------------------------------

    def groups(self, layouts: Mapping[str, Layout]) -> tuple[Group, ...]:
        groups: list[Group] = []
        for variant, layout in layouts.items():
            ids = self.fleets[variant]
            if ids.blue is not None and layout.blue_target > 0:
                groups.append(
                    Group(
                        ids.blue,
                        self.old_config,
                        variant,
                        ids.blue_type,
                        layout.blue_target,
                        layout.blue_active,
                        1.0 - layout.green_share,
                    )
                )
            if ids.green is not None and layout.green_target > 0:
                groups.append(
                    Group(
                        ids.green,
                        self.new_config,
                        variant,
                        ids.green_type,
                        layout.green_target,
                        layout.green_active,
                        layout.green_share,
                    )
                )
        return tuple(groups)

    def apply(self, endpoint: Endpoint, now: float) -> Endpoint:
        """The endpoint as the rollout's current state wants it."""
        rollout = self.rollout
        if rollout.phase is Phase.DONE:
            return self._finished(endpoint, now, forward=True)
        if rollout.phase is Phase.ROLLED_BACK:
            return self._finished(endpoint, now, forward=False)
        if rollout.phase is Phase.ROLLBACK_FAILED:
            return endpoint.with_changes(
                status=EndpointStatus.UPDATE_ROLLBACK_FAILED,
                failure_reason=rollout.reason,
                groups=self.groups(rollout.current.layouts),
                deployment=None,
                modified=now,
            )
        status = EndpointStatus.ROLLING_BACK if rollout.rolling_back else EndpointStatus.UPDATING
        return endpoint.with_changes(
            status=status,
            groups=self.groups(rollout.current.layouts),
            variants=self.new_variants if rollout.switched else self.old_variants,
            deployment=self.to_doc(),
        )

    def _finished(self, endpoint: Endpoint, now: float, *, forward: bool) -> Endpoint:
        rollout = self.rollout
        layouts = rollout.current.layouts
        groups = tuple(
            Group(g.id, g.config_name, g.variant, g.instance_type, g.target, g.target, 1.0)
            for g in self.groups(layouts)
        )
        changes: dict[str, Any] = {
            "status": EndpointStatus.IN_SERVICE,
            "groups": groups,
            "deployment": None,
            "modified": now,
        }
        if forward:
            changes["config_name"] = self.new_config
            changes["variants"] = self.new_variants
            changes["failure_reason"] = None
        else:
            changes["config_name"] = self.old_config
            changes["variants"] = self.old_variants
            changes["failure_reason"] = rollout.reason
        return endpoint.with_changes(**changes)
