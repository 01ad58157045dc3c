"""The endpoint configs an inference experiment moves its endpoint between.

Pure: from the experiment and the endpoint config the endpoint had before
it, build the CreateEndpointConfig bodies of

- the *experiment config*: the production variant and the shadow variant,
  the shadow weighted ``SamplingPercentage / 100`` beside a production
  weight of 1 (so the shadow receives that share of the requests, see
  :func:`moorage.runtime.snapshot.sampling_fraction`);
- the config a stop leaves (:func:`after_stop`): the prior config itself
  when the stop actions come back to it, the experiment config when the
  shadow is retained, or a new one (a promoted shadow).

Settings of the prior config that the experiment does not decide (data
capture, KMS key, routing, timeouts of a variant with the same name) are
carried over. Generated names are ``{experiment}-{label}-{8 hex}``, within
the 63 characters an endpoint config name may have.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from moorage.domain.inference_experiment import Experiment, ModelVariant, VariantAction

# Top-level endpoint config settings an experiment's configs keep from the prior config.
_CARRIED = ("DataCaptureConfig", "KmsKeyId", "VpcConfig", "EnableNetworkIsolation", "MetricsConfig")
# Variant settings that name capacity the experiment sets itself.
_REPLACED = ("ServerlessConfig", "ManagedInstanceScaling", "InitialVariantWeight")


def generated_name(experiment: str, label: str, now: float) -> str:
    base = experiment[:36].rstrip("-")
    token = hashlib.sha1(f"{experiment}|{label}|{now!r}".encode()).hexdigest()[:8]
    return f"{base}-{label}-{token}"


def _variants(spec: Mapping[str, Any] | None, key: str) -> list[Mapping[str, Any]]:
    return list((spec or {}).get(key) or [])


def variant_spec(
    variant: ModelVariant,
    weight: float,
    name: str | None = None,
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ProductionVariant for ``variant`` (keeping ``base``'s other settings)."""
    spec = {k: v for k, v in (base or {}).items() if k not in _REPLACED}
    spec.update(
        {
            "VariantName": name or variant.variant_name,
            "ModelName": variant.model_name,
            "InstanceType": variant.instance_type,
            "InitialInstanceCount": variant.instance_count,
            "InitialVariantWeight": weight,
        }
    )
    return spec


def _base(prior: Mapping[str, Any] | None, name: str) -> Mapping[str, Any] | None:
    for spec in _variants(prior, "ProductionVariants") + _variants(
        prior, "ShadowProductionVariants"
    ):
        if spec.get("VariantName") == name:
            return spec
    return None


def _config(
    name: str,
    prior: Mapping[str, Any] | None,
    production: list[dict[str, Any]],
    shadows: list[dict[str, Any]],
) -> dict[str, Any]:
    spec: dict[str, Any] = {"EndpointConfigName": name, "ProductionVariants": production}
    if shadows:
        spec["ShadowProductionVariants"] = shadows
    for key in _CARRIED:
        if prior and prior.get(key) is not None:
            spec[key] = prior[key]
    return spec


def shadow_weight(sampling_percentage: int) -> float:
    return sampling_percentage / 100.0


def experiment_config(
    experiment: Experiment, prior: Mapping[str, Any] | None, name: str
) -> dict[str, Any]:
    source, shadow = experiment.source, experiment.shadow
    return _config(
        name,
        prior,
        [variant_spec(source, 1.0, base=_base(prior, source.variant_name))],
        [
            variant_spec(
                shadow,
                shadow_weight(experiment.sampling_percentage),
                base=_base(prior, shadow.variant_name),
            )
        ],
    )


@dataclass(frozen=True)
class StopTarget:
    """Where a stop leaves the endpoint: an existing config, or one to create."""

    config_name: str
    spec: Mapping[str, Any] | None


def _shape(variants: Sequence[Mapping[str, Any]], *, weights: bool = False) -> list[str]:
    """What makes two variant lists serve alike (weights matter for shadows only)."""
    return sorted(
        repr(
            (
                v.get("VariantName"),
                v.get("ModelName"),
                v.get("InstanceType"),
                v.get("InitialInstanceCount"),
                float(v.get("InitialVariantWeight", 1.0)) if weights else None,
            )
        )
        for v in variants
    )


def after_stop(
    experiment: Experiment,
    actions: Mapping[str, VariantAction],
    desired: Sequence[ModelVariant],
    experiment_spec: Mapping[str, Any] | None,
    name: str,
) -> StopTarget:
    """The endpoint config the endpoint ends on once the stop ``actions`` are applied.

    ``desired`` (DesiredModelVariants) are the production variants to keep
    when given; otherwise a promoted shadow's model takes the production
    variant's name and instances, and a retained production variant stays
    as the experiment ran it. A retained shadow stays a shadow.
    """
    source, shadow = experiment.source, experiment.shadow
    prior = experiment.prior_spec
    base = _base(experiment_spec, source.variant_name)
    if desired:
        production = [
            variant_spec(v, 1.0, base=_base(experiment_spec, v.variant_name)) for v in desired
        ]
    elif actions.get(shadow.variant_name) is VariantAction.PROMOTE:
        promoted = ModelVariant(
            shadow.model_name, source.variant_name, source.instance_type, source.instance_count
        )
        production = [variant_spec(promoted, 1.0, base=base)]
    else:
        production = [variant_spec(source, 1.0, base=base)]
    shadows = []
    if actions.get(shadow.variant_name) is VariantAction.RETAIN:
        shadows = [
            variant_spec(
                shadow,
                shadow_weight(experiment.sampling_percentage),
                base=_base(experiment_spec, shadow.variant_name),
            )
        ]
    if (
        experiment.prior_config
        and prior is not None
        and not shadows
        and _shape(production) == _shape(_variants(prior, "ProductionVariants"))
        and not _variants(prior, "ShadowProductionVariants")
    ):
        return StopTarget(experiment.prior_config, prior)
    if (
        experiment.experiment_config
        and experiment_spec is not None
        and _shape(production) == _shape(_variants(experiment_spec, "ProductionVariants"))
        and _shape(shadows, weights=True)
        == _shape(_variants(experiment_spec, "ShadowProductionVariants"), weights=True)
    ):
        return StopTarget(experiment.experiment_config, experiment_spec)
    return StopTarget(name, _config(name, prior or experiment_spec, production, shadows))
