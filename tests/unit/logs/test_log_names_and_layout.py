"""Log group and stream names, and the files that hold them."""

from __future__ import annotations

from pathlib import Path

from moorage.logs.layout import all_streams, group_streams, parse_file_name, stream_path
from moorage.logs.names import (
    component_group,
    component_stream,
    copy_stream,
    endpoint_group,
    group_from_identifier,
    instance_id,
    parse_group,
    stream_parts,
    variant_stream,
)


def test_instance_ids_are_ec2_shaped_and_stable() -> None:
    first = instance_id("ep", "AllTraffic", "g1", "0")
    assert first == instance_id("ep", "AllTraffic", "g1", "0")
    assert first != instance_id("ep", "AllTraffic", "g1", "1")
    assert first != instance_id("ep", "AllTraffic", "g2", "0")
    assert first.startswith("i-") and len(first) == 19
    assert all(c in "0123456789abcdef" for c in first[2:])


def test_stream_names_follow_sagemaker() -> None:
    stream = variant_stream("ep", "AllTraffic", "g1", 0)
    assert stream == f"AllTraffic/{instance_id('ep', 'AllTraffic', 'g1', '0')}"
    assert stream_parts(endpoint_group("ep"), stream) is not None
    copy = component_stream("ep", "AllTraffic", "instance-1", "llama-2")
    assert copy == f"AllTraffic/{instance_id('ep', 'AllTraffic', 'instance-1')}/llama-2"
    assert stream_parts(component_group("llama"), copy) is not None
    # A container of a multi-container model: {VariantName}/{instance-id}/{container}.
    assert stream_parts(endpoint_group("ep"), f"{stream}/preprocess") is not None
    assert stream_parts(endpoint_group("ep"), f"{stream}/a/b") is None
    assert stream_parts(component_group("llama"), stream) is None
    assert copy_stream("ep", "v", None, "c-1", named="v/i-0123456789abcdef0") == (
        "v/i-0123456789abcdef0"
    )
    assert copy_stream("ep", "v", "comp", "comp-1-7").endswith("/comp-1-7")


def test_group_names_and_identifiers() -> None:
    assert endpoint_group("Ep-1").name == "/aws/sagemaker/Endpoints/Ep-1"
    assert component_group("c").name == "/aws/sagemaker/InferenceComponents/c"
    assert parse_group("/aws/sagemaker/Endpoints/Ep-1") == endpoint_group("Ep-1")
    assert parse_group("/aws/sagemaker/InferenceComponents/c") == component_group("c")
    for other in (
        "/aws/sagemaker/Endpoints/",
        "/aws/sagemaker/Endpoints/a/b",
        "/aws/sagemaker/Endpoints/..",
        "/aws/sagemaker/TrainingJobs",
        "/aws/lambda/x",
    ):
        assert parse_group(other) is None, other
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/ep"
    assert group_from_identifier(arn) == "/aws/sagemaker/Endpoints/ep"
    assert group_from_identifier(arn + ":*") == "/aws/sagemaker/Endpoints/ep"
    assert group_from_identifier("/aws/sagemaker/Endpoints/ep") == "/aws/sagemaker/Endpoints/ep"


def test_files_map_to_groups_and_streams_and_back(tmp_path: Path) -> None:
    variant = variant_stream("ep", "AllTraffic", "g1", 0)
    copy = component_stream("ep", "AllTraffic", "instance-1", "llama-1")
    variant_file = stream_path(tmp_path, "ep", None, variant)
    copy_file = stream_path(tmp_path, "ep", "llama", copy)
    container = f"{variant}/preprocess"
    container_file = stream_path(tmp_path, "ep", None, container)
    assert variant_file.parent == copy_file.parent == tmp_path / "ep"
    for path in (variant_file, copy_file, container_file):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    # Files that are not streams: an older version's per-copy log, and strays.
    (tmp_path / "ep" / "ep-AllTraffic-g1-0-0.log").write_bytes(b"old")
    (tmp_path / "ep" / "notes.txt").write_bytes(b"")
    (tmp_path / "not a name").mkdir()
    (tmp_path / "not a name" / variant_file.name).write_bytes(b"")
    kind, stream = parse_file_name(copy_file.name)
    assert kind == component_group("llama") and stream == copy
    assert parse_file_name("ep-AllTraffic-g1-0-0.log") == (None, "")
    assert parse_file_name(container_file.name) == (endpoint_group(""), container)
    found = {(s.group, s.stream) for s in all_streams(tmp_path)}
    assert found == {
        (endpoint_group("ep"), variant),
        (endpoint_group("ep"), container),
        (component_group("llama"), copy),
    }
    assert sorted(s.path for s in group_streams(tmp_path, endpoint_group("ep"))) == sorted(
        [variant_file, container_file]
    )
    assert [s.path for s in group_streams(tmp_path, component_group("llama"))] == [copy_file]
    assert group_streams(tmp_path, endpoint_group("EP")) == []
    assert group_streams(tmp_path, component_group("other")) == []
