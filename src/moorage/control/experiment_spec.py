"""Reading inference-experiment requests: the rules botocore's shapes cannot state.

Pure apart from the ``model_exists`` look-up it is given. The shapes
(lengths, patterns, enums, at most two ``ModelVariants``, one shadow) have
been checked by the protocol layer; these functions check how the members
fit together and raise :class:`~moorage.errors.ValidationError` naming the
member at fault:

- ``ModelVariants``: exactly two, distinct variant names, each model
  existing, at least one instance each;
- ``ShadowModeConfig``: the source (production) and the shadow each name one
  of the two variants, and they differ; ``SamplingPercentage`` 0 to 100;
- ``Schedule``: without ``StartTime`` the experiment starts at once, without
  ``EndTime`` it ends 7 days after its start; the end must follow the start
  and lie ahead, and the experiment may last at most 30 days;
- ``DataStorageConfig``: a destination capture can write to, inside the
  server's file roots if it is local.

Also the stop actions (:func:`stop_actions`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from moorage.capture import CaptureConfig, CaptureConfigError
from moorage.control.location_checks import check_destination
from moorage.domain.inference_experiment import Experiment, ModelVariant, VariantAction
from moorage.errors import ValidationError
from moorage.file_roots import FileRoots

DEFAULT_DURATION_S = 7 * 24 * 3600.0
MAX_DURATION_S = 30 * 24 * 3600.0

ModelExists = Callable[[str], bool]


@dataclass(frozen=True)
class ShadowMode:
    source: str
    shadow: str
    sampling_percentage: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "SourceModelVariantName": self.source,
            "ShadowModelVariants": [
                {
                    "ShadowModelVariantName": self.shadow,
                    "SamplingPercentage": self.sampling_percentage,
                }
            ],
        }


def shadow_mode(config: Mapping[str, Any]) -> ShadowMode:
    (shadow,) = config["ShadowModelVariants"]
    percentage = int(shadow["SamplingPercentage"])
    if not 0 <= percentage <= 100:
        raise ValidationError(
            f"ShadowModeConfig.ShadowModelVariants.SamplingPercentage ({percentage}) must be "
            "between 0 and 100."
        )
    return ShadowMode(
        str(config["SourceModelVariantName"]), str(shadow["ShadowModelVariantName"]), percentage
    )


def model_variants(
    items: Sequence[Mapping[str, Any]], model_exists: ModelExists, model_arn: Callable[[str], str]
) -> tuple[ModelVariant, ...]:
    variants = tuple(ModelVariant.from_wire(item) for item in items)
    names = [v.variant_name for v in variants]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValidationError(f"ModelVariants name the variant {twice[0]} more than once.")
    for variant in variants:
        if variant.instance_count < 1:
            raise ValidationError(
                f"Variant {variant.variant_name}: InstanceCount must be at least 1."
            )
        if not model_exists(variant.model_name):
            raise ValidationError(f'Could not find model "{model_arn(variant.model_name)}".')
    return variants


def check_pairing(variants: Sequence[ModelVariant], mode: ShadowMode) -> None:
    """Two variants: the production variant and the shadow, as ShadowModeConfig names them."""
    names = {v.variant_name for v in variants}
    if len(variants) != 2:
        raise ValidationError(
            "A ShadowMode experiment needs exactly two ModelVariants: the production variant "
            f"and the shadow variant ({len(variants)} given)."
        )
    if mode.source == mode.shadow:
        raise ValidationError(
            "ShadowModeConfig: the shadow variant must differ from SourceModelVariantName."
        )
    for role, name in (("SourceModelVariantName", mode.source), ("shadow variant", mode.shadow)):
        if name not in names:
            raise ValidationError(
                f"ShadowModeConfig {role} {name} is not one of the ModelVariants "
                f"({', '.join(sorted(names))})."
            )


def schedule(given: Mapping[str, Any] | None, now: float) -> tuple[float, float]:
    """(start, end) from a ``Schedule`` (or its absence) at creation."""
    given = given or {}
    start = float(given["StartTime"]) if given.get("StartTime") is not None else now
    end = (
        float(given["EndTime"]) if given.get("EndTime") is not None else start + DEFAULT_DURATION_S
    )
    check_window(start, end, now)
    return start, end


def check_window(start: float, end: float, now: float) -> None:
    if end <= start:
        raise ValidationError("Schedule.EndTime must be later than Schedule.StartTime.")
    if end <= now:
        raise ValidationError("Schedule.EndTime must be in the future.")
    if end - max(start, now) > MAX_DURATION_S:
        raise ValidationError("An inference experiment can run for at most 30 days.")


def data_storage(
    config: Mapping[str, Any] | None, roots: FileRoots | None = None
) -> Mapping[str, Any] | None:
    if config is None:
        return None
    try:
        CaptureConfig.from_data_storage_config(config)
    except CaptureConfigError as exc:
        raise ValidationError(f"DataStorageConfig is not valid: {exc}.") from None
    if roots is not None:
        check_destination(roots, "DataStorageConfig.Destination", config.get("Destination"))
    return config


@dataclass(frozen=True)
class StopActions:
    actions: dict[str, VariantAction]
    desired: tuple[ModelVariant, ...]


def stop_actions(
    experiment: Experiment,
    actions: Mapping[str, str],
    desired: tuple[ModelVariant, ...],
) -> StopActions:
    """The ModelVariantActions, completed with defaults and checked for sense.

    A variant left out is retained if it is the production variant and
    removed if it is the shadow, which is what the end of the schedule does.
    """
    source, shadow = experiment.source_variant, experiment.shadow_variant
    unknown = sorted(set(actions) - {source, shadow})
    if unknown:
        raise ValidationError(
            f"ModelVariantActions name {', '.join(unknown)}, which is not a variant of "
            f"inference experiment {experiment.name} ({source}, {shadow})."
        )
    resolved = {
        source: VariantAction(actions.get(source, VariantAction.RETAIN.value)),
        shadow: VariantAction(actions.get(shadow, VariantAction.REMOVE.value)),
    }
    if resolved[source] is VariantAction.PROMOTE:
        raise ValidationError(
            f"Variant {source} is the production variant; only the shadow variant can be promoted."
        )
    promote = resolved[shadow] is VariantAction.PROMOTE
    if promote and resolved[source] is VariantAction.RETAIN and source in actions:
        raise ValidationError(
            f"Promoting shadow variant {shadow} replaces production variant {source}: its action "
            "must be Remove, not Retain."
        )
    if promote:
        resolved[source] = VariantAction.REMOVE
    if resolved[source] is VariantAction.REMOVE and not promote and not desired:
        raise ValidationError(
            f"Removing production variant {source} leaves the endpoint with no production "
            "variant: promote the shadow variant or give DesiredModelVariants."
        )
    if resolved[shadow] is VariantAction.RETAIN and resolved[source] is VariantAction.REMOVE:
        raise ValidationError(
            f"Shadow variant {shadow} can only be retained beside production variant {source}."
        )
    return StopActions(resolved, desired)
