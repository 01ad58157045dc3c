"""The endpoint configs an experiment moves between, and the rules of its requests."""

from __future__ import annotations

from typing import Any

import pytest

from moorage.control.experiment_spec import (
    DEFAULT_DURATION_S,
    ShadowMode,
    check_pairing,
    schedule,
    shadow_mode,
    stop_actions,
)
from moorage.deploy.experiment_configs import after_stop, experiment_config, generated_name
from moorage.domain.inference_experiment import (
    Experiment,
    ExperimentStatus,
    ModelVariant,
    VariantAction,
)
from moorage.errors import ValidationError
from moorage.runtime.snapshot import sampling_fraction

T0 = 1_800_000_000.0
PRIOR: dict[str, Any] = {
    "EndpointConfigName": "c1",
    "ProductionVariants": [
        {
            "VariantName": "Prod",
            "ModelName": "m1",
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 2,
            "InitialVariantWeight": 3.0,
            "RoutingConfig": {"RoutingStrategy": "RANDOM"},
        }
    ],
    "DataCaptureConfig": {"DestinationS3Uri": "s3://b/own"},
}


def experiment(**changes: Any) -> Experiment:
    return Experiment(
        name="nightly",
        arn="arn:aws:sagemaker:us-east-1:123456789012:inference-experiment/nightly",
        created=T0,
        modified=T0,
        status=ExperimentStatus.RUNNING,
        endpoint_name="shop",
        role_arn="arn:aws:iam::123456789012:role/R",
        model_variants=(
            ModelVariant("m1", "Prod", "ml.m5.large", 2),
            ModelVariant("m2", "Shadow", "ml.c5.large", 1),
        ),
        source_variant="Prod",
        shadow_variant="Shadow",
        sampling_percentage=30,
        start=T0,
        end=T0 + 100,
        prior_config="c1",
        prior_spec=PRIOR,
        experiment_config="nightly-shadow-1",
    ).with_changes(**changes)


def test_the_experiment_config_weights_the_shadow_by_its_sampling() -> None:
    spec = experiment_config(experiment(), PRIOR, "nightly-shadow-1")
    (production,) = spec["ProductionVariants"]
    (shadow,) = spec["ShadowProductionVariants"]
    assert production["InitialVariantWeight"] == 1.0
    assert shadow["InitialVariantWeight"] == 0.3
    assert sampling_fraction(shadow["InitialVariantWeight"], 1.0) == pytest.approx(0.3)
    # What the experiment does not decide is kept from the prior config.
    assert production["RoutingConfig"] == {"RoutingStrategy": "RANDOM"}
    assert spec["DataCaptureConfig"] == PRIOR["DataCaptureConfig"]
    assert shadow["InstanceType"] == "ml.c5.large"


def test_sampling_fraction_is_the_shadow_weight_over_the_production_weight() -> None:
    assert sampling_fraction(0.5, 1.0) == 0.5
    assert sampling_fraction(1.0, 2.0) == 0.5
    assert sampling_fraction(3.0, 1.0) == 1.0
    assert sampling_fraction(0.0, 1.0) == 0.0
    assert sampling_fraction(1.0, 0.0) == 0.0


def test_generated_names_fit_an_endpoint_config_name() -> None:
    name = generated_name("a" * 120, "promoted", T0)
    assert len(name) <= 63
    assert name.startswith("a" * 36 + "-promoted-")
    assert generated_name("x-" * 30, "shadow", T0).split("-shadow-")[0][-1] != "-"


def test_retain_and_remove_goes_back_to_the_prior_config() -> None:
    actions = {"Prod": VariantAction.RETAIN, "Shadow": VariantAction.REMOVE}
    spec = experiment_config(experiment(), PRIOR, "nightly-shadow-1")
    target = after_stop(experiment(), actions, (), spec, "new")
    assert target.config_name == "c1"
    assert target.spec == PRIOR


def test_retaining_the_shadow_keeps_the_experiment_config() -> None:
    actions = {"Prod": VariantAction.RETAIN, "Shadow": VariantAction.RETAIN}
    spec = experiment_config(experiment(), PRIOR, "nightly-shadow-1")
    assert after_stop(experiment(), actions, (), spec, "new").config_name == "nightly-shadow-1"
    # After the sampling changed while running, the retained shadow keeps the new weight.
    changed = after_stop(experiment(sampling_percentage=80), actions, (), spec, "new")
    assert changed.config_name == "new"
    assert changed.spec is not None
    assert changed.spec["ShadowProductionVariants"][0]["InitialVariantWeight"] == 0.8


def test_promote_gives_the_production_variant_the_shadows_model() -> None:
    actions = {"Prod": VariantAction.REMOVE, "Shadow": VariantAction.PROMOTE}
    spec = experiment_config(experiment(), PRIOR, "nightly-shadow-1")
    target = after_stop(experiment(), actions, (), spec, "nightly-promoted-1")
    assert target.config_name == "nightly-promoted-1"
    assert target.spec is not None
    (production,) = target.spec["ProductionVariants"]
    assert (production["VariantName"], production["ModelName"]) == ("Prod", "m2")
    assert (production["InstanceType"], production["InitialInstanceCount"]) == ("ml.m5.large", 2)
    assert "ShadowProductionVariants" not in target.spec
    desired = (ModelVariant("m2", "Shadow", "ml.c5.large", 3),)
    custom = after_stop(experiment(), actions, desired, spec, "nightly-promoted-2")
    assert custom.spec is not None
    (production,) = custom.spec["ProductionVariants"]
    assert (production["VariantName"], production["InitialInstanceCount"]) == ("Shadow", 3)


def test_stop_actions_default_and_refuse_what_makes_no_sense() -> None:
    default = stop_actions(experiment(), {}, ())
    assert default.actions == {"Prod": VariantAction.RETAIN, "Shadow": VariantAction.REMOVE}
    promote = stop_actions(experiment(), {"Shadow": "Promote"}, ())
    assert promote.actions == {"Prod": VariantAction.REMOVE, "Shadow": VariantAction.PROMOTE}
    refused = [
        {"Other": "Retain"},
        {"Prod": "Promote"},
        {"Prod": "Retain", "Shadow": "Promote"},
        {"Prod": "Remove", "Shadow": "Remove"},
        {"Prod": "Remove", "Shadow": "Retain"},
    ]
    for actions in refused:
        with pytest.raises(ValidationError):
            stop_actions(experiment(), actions, ())


def test_schedule_defaults_and_limits() -> None:
    assert schedule(None, T0) == (T0, T0 + DEFAULT_DURATION_S)
    assert schedule({"StartTime": T0 + 10}, T0) == (T0 + 10, T0 + 10 + DEFAULT_DURATION_S)
    assert schedule({"EndTime": T0 + 60}, T0) == (T0, T0 + 60)
    for bad in (
        {"StartTime": T0 + 10, "EndTime": T0 + 5},
        {"StartTime": T0 - 100, "EndTime": T0 - 50},
        {"StartTime": T0, "EndTime": T0 + 31 * 24 * 3600},
    ):
        with pytest.raises(ValidationError):
            schedule(bad, T0)


def test_shadow_mode_must_pair_the_two_variants() -> None:
    variants = experiment().model_variants
    check_pairing(variants, ShadowMode("Prod", "Shadow", 10))
    for mode in (ShadowMode("Prod", "Prod", 10), ShadowMode("Prod", "Nope", 10)):
        with pytest.raises(ValidationError):
            check_pairing(variants, mode)
    with pytest.raises(ValidationError):
        check_pairing(variants[:1], ShadowMode("Prod", "Shadow", 10))
    with pytest.raises(ValidationError):
        shadow_mode(
            {
                "SourceModelVariantName": "Prod",
                "ShadowModelVariants": [
                    {"ShadowModelVariantName": "Shadow", "SamplingPercentage": -5}
                ],
            }
        )
