"""The instance-type catalog against botocore's enum and AWS's published specs."""

from __future__ import annotations

import itertools
import re

import botocore.session
import pytest

from moorage.placement import (
    AcceleratorKind,
    InstanceType,
    UnknownInstanceType,
    default_catalog,
    load_catalog,
)

GIB = 1024


def _botocore_types() -> list[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    enum = model.shape_for("ProductionVariantInstanceType").enum
    return [name for name in enum if name.startswith("ml.")]


def _family(name: str) -> str:
    return name.split(".")[1]


def test_every_botocore_hosting_instance_type_is_in_the_catalog() -> None:
    catalog = default_catalog()
    missing = [name for name in _botocore_types() if name not in catalog]
    assert not missing, f"add these to placement/instance_types.json: {missing}"


def test_the_catalog_has_nothing_botocore_does_not_know() -> None:
    assert set(default_catalog().names()) <= set(_botocore_types())


def test_names_follow_botocore_order_and_the_catalog_is_loaded_once() -> None:
    assert list(default_catalog().names()) == _botocore_types()
    assert default_catalog() is default_catalog()


@pytest.mark.parametrize(
    ("name", "vcpus", "memory_gib", "count", "kind", "model", "cores"),
    [
        ("ml.g5.12xlarge", 48, 192, 4, AcceleratorKind.NVIDIA_GPU, "NVIDIA A10G", None),
        ("ml.g5.xlarge", 4, 16, 1, AcceleratorKind.NVIDIA_GPU, "NVIDIA A10G", None),
        ("ml.g4dn.xlarge", 4, 16, 1, AcceleratorKind.NVIDIA_GPU, "NVIDIA T4", None),
        ("ml.g6e.48xlarge", 192, 1536, 8, AcceleratorKind.NVIDIA_GPU, "NVIDIA L40S", None),
        ("ml.p4d.24xlarge", 96, 1152, 8, AcceleratorKind.NVIDIA_GPU, "NVIDIA A100", None),
        ("ml.p5.48xlarge", 192, 2048, 8, AcceleratorKind.NVIDIA_GPU, "NVIDIA H100", None),
        ("ml.p3.2xlarge", 8, 61, 1, AcceleratorKind.NVIDIA_GPU, "NVIDIA V100", None),
        ("ml.inf2.xlarge", 4, 16, 1, AcceleratorKind.NEURON, "AWS Inferentia2", 2),
        ("ml.inf2.48xlarge", 192, 768, 12, AcceleratorKind.NEURON, "AWS Inferentia2", 2),
        ("ml.inf1.6xlarge", 24, 48, 4, AcceleratorKind.NEURON, "AWS Inferentia", 4),
        ("ml.trn1.32xlarge", 128, 512, 16, AcceleratorKind.NEURON, "AWS Trainium", 2),
        ("ml.trn2.48xlarge", 192, 2048, 16, AcceleratorKind.NEURON, "AWS Trainium2", 8),
        ("ml.dl1.24xlarge", 96, 768, 8, AcceleratorKind.HABANA_GAUDI, "Habana Gaudi", None),
        ("ml.c4.8xlarge", 36, 60, 0, AcceleratorKind.NONE, None, None),
        ("ml.m5.large", 2, 8, 0, AcceleratorKind.NONE, None, None),
        ("ml.r8g.medium", 1, 8, 0, AcceleratorKind.NONE, None, None),
        ("ml.t2.medium", 2, 4, 0, AcceleratorKind.NONE, None, None),
    ],
)
def test_published_specs(
    name: str,
    vcpus: int,
    memory_gib: int,
    count: int,
    kind: AcceleratorKind,
    model: str | None,
    cores: int | None,
) -> None:
    assert default_catalog().get(name) == InstanceType(
        name, vcpus, memory_gib * GIB, count, kind, model, cores
    )


def test_fractional_gib_is_kept_exactly() -> None:
    assert default_catalog().get("ml.c4.large").memory_mib == 3840  # 3.75 GiB


def test_every_type_is_sane() -> None:
    for kind in default_catalog():
        assert kind.vcpus > 0 and kind.memory_mib > 0, kind.name
        ratio = kind.memory_mib / GIB / kind.vcpus
        assert 1.5 <= ratio <= 24, f"{kind.name}: {ratio} GiB per vCPU"
        family = _family(kind.name)
        if kind.accelerator_kind is AcceleratorKind.NVIDIA_GPU:
            assert re.match(r"^(g|p)\d", family), kind.name
            assert kind.accelerator_name and kind.accelerator_name.startswith("NVIDIA ")
        elif kind.accelerator_kind is AcceleratorKind.NEURON:
            assert re.match(r"^(inf|trn)\d", family), kind.name
            assert kind.cores_per_accelerator in (2, 4, 8)
        elif kind.accelerator_kind is AcceleratorKind.HABANA_GAUDI:
            assert family == "dl1"
        else:
            assert not re.match(r"^(g|p|inf|trn|dl)\d", family), kind.name
            assert kind.accelerator_count == 0 and kind.accelerator_name is None


def test_bigger_sizes_of_a_family_never_have_less() -> None:
    families: dict[str, list[InstanceType]] = {}
    for kind in default_catalog():
        families.setdefault(_family(kind.name), []).append(kind)
    for family, kinds in families.items():
        ordered = sorted(kinds, key=lambda k: (k.vcpus, k.memory_mib))
        for smaller, bigger in itertools.pairwise(ordered):
            assert bigger.memory_mib >= smaller.memory_mib, family
            assert bigger.accelerator_count >= smaller.accelerator_count or family in {
                "g4dn",
                "g5",
                "g6",
                "g6e",
            }, family  # the 16xlarge of these has 1 GPU, the 12xlarge 4
        assert len({k.accelerator_name for k in kinds}) == 1, family


def test_unknown_names_raise_a_clear_error_not_a_key_error() -> None:
    catalog = default_catalog()
    with pytest.raises(UnknownInstanceType) as raised:
        catalog.get("ml.g5.12xlarg")
    assert not isinstance(raised.value, KeyError)
    assert raised.value.message.startswith('Unknown instance type "ml.g5.12xlarg"; did you mean')
    assert "ml.g5.12xlarge" in raised.value.suggestions
    assert catalog.find("ml.nope.large") is None
    assert UnknownInstanceType("zzz").message == 'Unknown instance type "zzz"'


def test_a_catalog_can_be_loaded_from_other_data() -> None:
    catalog = load_catalog(
        '{"instance_types": [{"name": "ml.x.large", "vcpus": 2, "memory_mib": 4096},'
        ' {"name": "ml.y.large", "vcpus": 8, "memory_mib": 32768, "accelerators":'
        ' {"count": 2, "kind": "neuron", "name": "AWS Inferentia2", "cores_per_accelerator": 2}}]}'
    )
    assert catalog.names() == ("ml.x.large", "ml.y.large")
    assert len(catalog) == 2
    assert catalog.get("ml.y.large").describe_accelerators() == (
        "2x AWS Inferentia2 (2 NeuronCores each)"
    )
    assert catalog.get("ml.x.large").describe_accelerators() == "-"


def test_inconsistent_entries_are_refused() -> None:
    with pytest.raises(ValueError):
        InstanceType("ml.bad.large", 0, 1024)
    with pytest.raises(ValueError):
        InstanceType("ml.bad.large", 2, 1024, accelerator_count=1)
    with pytest.raises(ValueError):
        InstanceType("ml.bad.large", 2, 1024, 1, AcceleratorKind.NEURON, "AWS Inferentia2")
    with pytest.raises(ValueError):
        InstanceType("ml.bad.large", 2, 1024, 1, AcceleratorKind.NVIDIA_GPU, "X", 2)
