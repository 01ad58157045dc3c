"""How component statuses move on from what their copies do (no processes, no clock)."""

from __future__ import annotations

from typing import Any

from moorage.deploy.component_outcomes import Inputs, advance, serving_copies
from moorage.deploy.component_plan import add_copies, initial_capacity
from moorage.deploy.component_slots import CopyKey, CopySlot, EndpointCopies
from moorage.domain.component_placement import EndpointPlacement
from moorage.domain.endpoint import Endpoint, EndpointStatus
from moorage.domain.inference_component import ComponentStatus, InferenceComponent, Previous
from moorage.fleet.base import Copy, CopySpec, CopyState
from moorage.placement import Requirements, Strategy, default_catalog

M5_4X = default_catalog().get("ml.m5.4xlarge")
NEED = Requirements(cpus=1, min_memory_mb=1024)
SPEC = {"ModelName": "m", "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}}
ENDPOINT = Endpoint("ep", "arn:ep", 1.0, 1.0, "cfg", EndpointStatus.IN_SERVICE)


def component(name: str = "a", **changes: Any) -> InferenceComponent:
    base = InferenceComponent(
        name=name,
        arn=f"arn:{name}",
        created=1.0,
        modified=1.0,
        endpoint_name="ep",
        endpoint_arn="arn:ep",
        variant="v",
        status=ComponentStatus.CREATING,
        spec=SPEC,
        desired_copies=2,
    )
    return base.with_changes(**changes)


def placement(*requests: tuple[str, int, int]) -> EndpointPlacement:
    capacity = initial_capacity("v", M5_4X, 1)
    for name, count, generation in requests:
        capacity = add_copies(
            capacity, name, NEED, count, Strategy.SPREAD, generation=generation, limits=None
        )
    return EndpointPlacement("ep", "arn:ep", 1.0, (capacity,))


def running(state: EndpointCopies, where: EndpointPlacement, *ready: str) -> None:
    """Slots for every placed copy; those in ``ready`` run."""
    for capacity in where.variants:
        for placed in capacity.copies():
            key = CopyKey(
                placed.copy.copy_id,
                placed.copy.component,
                placed.generation,
                placed.instance_id,
                (),
            )
            slot = CopySlot(key)
            if placed.copy.copy_id in ready:
                copy = Copy(CopySpec(placed.copy.copy_id, "ep", "v", "img", None))
                copy.state = CopyState.READY
                slot.running(copy)
            state.slots[placed.copy.copy_id] = slot


def run(state: EndpointCopies, where: EndpointPlacement, *items: InferenceComponent) -> Any:
    components = {c.name.lower(): c for c in items}
    return advance(Inputs(5.0, ENDPOINT, None, state, components, where))


def test_creating_until_every_copy_runs() -> None:
    where = placement(("a", 2, 1))
    state = EndpointCopies()
    running(state, where, "a-1")
    assert run(state, where, component()).components["a"].status is ComponentStatus.CREATING
    running(state, where, "a-1", "a-2")
    result = run(state, where, component())
    assert result.components["a"].status is ComponentStatus.IN_SERVICE
    assert result.components["a"].modified == 5.0
    assert result.placement is None


def test_a_copy_that_cannot_start_fails_the_component_and_frees_its_copies() -> None:
    where = placement(("a", 2, 1), ("b", 1, 1))
    state = EndpointCopies()
    running(state, where, "a-1", "b-1")
    state.slots["a-2"].start_failure = "model_fn raised ValueError: bad weights"
    result = run(state, where, component(), component("b", desired_copies=1))
    failed = result.components["a"]
    assert failed.status is ComponentStatus.FAILED
    assert failed.failure_reason == "model_fn raised ValueError: bad weights"
    assert result.placement is not None
    assert [c.copy.copy_id for c in result.placement.variants[0].copies()] == ["b-1"]


def test_an_update_serves_the_old_generation_until_the_new_one_is_ready() -> None:
    where = placement(("a", 2, 1), ("a", 2, 2))
    previous = Previous({"ModelName": "old"}, 2, 1, ("a-1", "a-2"))
    updating = component(status=ComponentStatus.UPDATING, generation=2, previous=previous)
    state = EndpointCopies()
    running(state, where, "a-1", "a-2", "a-3")
    result = run(state, where, updating)
    assert result.components["a"].status is ComponentStatus.UPDATING
    assert [c.copy_id for c in serving_copies(state, updating, None)] == ["a-1", "a-2"]
    running(state, where, "a-1", "a-2", "a-3", "a-4")
    result = run(state, where, updating)
    done = result.components["a"]
    assert (done.status, done.previous) == (ComponentStatus.IN_SERVICE, None)
    assert [c.copy.copy_id for c in result.placement.variants[0].copies()] == ["a-3", "a-4"]
    assert [c.copy_id for c in serving_copies(state, done, None)] == ["a-3", "a-4"]


def test_an_update_whose_new_copy_cannot_start_is_rolled_back() -> None:
    where = placement(("a", 2, 1), ("a", 3, 2))
    previous = Previous({"ModelName": "old"}, 2, 1, ("a-1", "a-2"))
    updating = component(
        status=ComponentStatus.UPDATING, generation=2, desired_copies=3, previous=previous
    )
    state = EndpointCopies()
    running(state, where, "a-1", "a-2", "a-3")
    state.slots["a-4"].start_failure = "exited with status 4"
    result = run(state, where, updating)
    restored = result.components["a"]
    assert restored.status is ComponentStatus.IN_SERVICE
    assert (restored.spec, restored.desired_copies, restored.generation) == (
        {"ModelName": "old"},
        2,
        1,
    )
    assert restored.failure_reason == (
        "The update failed and was rolled back: exited with status 4"
    )
    assert [c.copy.copy_id for c in result.placement.variants[0].copies()] == ["a-1", "a-2"]


def test_a_deleted_component_goes_once_its_copies_are_gone() -> None:
    where = placement()
    state = EndpointCopies()
    deleting = component(status=ComponentStatus.DELETING)
    state.slots["a-1"] = CopySlot(CopyKey("a-1", "a", 1, "instance-1", ()))
    assert run(state, where, deleting).deleted == []
    del state.slots["a-1"]
    assert run(state, where, deleting).deleted == [deleting]


def test_an_adapter_is_in_service_once_every_base_copy_loaded_it() -> None:
    where = placement(("base", 2, 1))
    base = component("base", status=ComponentStatus.IN_SERVICE)
    adapter = component(
        "lora",
        desired_copies=0,
        spec={"BaseInferenceComponentName": "base", "Container": {"ArtifactUrl": "s3://b/k"}},
    )
    state = EndpointCopies()
    running(state, where, "base-1", "base-2")
    state.slots["base-1"].loaded.add("lora")
    result = run(state, where, base, adapter)
    assert result.components["lora"].status is ComponentStatus.CREATING
    assert [c.copy_id for c in serving_copies(state, adapter, base)] == ["base-1"]
    state.slots["base-2"].loaded.add("lora")
    assert run(state, where, base, adapter).components["lora"].status is (
        ComponentStatus.IN_SERVICE
    )


def test_a_base_is_not_in_service_before_its_adapters_settled() -> None:
    where = placement(("base", 1, 1))
    base = component("base", desired_copies=1)
    adapter = component(
        "lora",
        status=ComponentStatus.IN_SERVICE,
        spec={"BaseInferenceComponentName": "base", "Container": {"ArtifactUrl": "s3://b/k"}},
    )
    state = EndpointCopies()
    running(state, where, "base-1")
    assert run(state, where, base, adapter).components["base"].status is ComponentStatus.CREATING
    state.slots["base-1"].load_failures["lora"] = "Adapter lora failed to load: 500"
    assert run(state, where, base, adapter).components["base"].status is (
        ComponentStatus.IN_SERVICE
    )


def test_an_adapter_that_fails_to_load_fails_and_is_unloaded() -> None:
    where = placement(("base", 1, 1))
    base = component("base", status=ComponentStatus.IN_SERVICE, desired_copies=1)
    adapter = component(
        "lora",
        spec={"BaseInferenceComponentName": "base", "Container": {"ArtifactUrl": "s3://b/k"}},
    )
    state = EndpointCopies()
    running(state, where, "base-1")
    state.slots["base-1"].load_failures["lora"] = "load_adapter raised for adapter lora: boom"
    result = run(state, where, base, adapter)
    assert result.components["lora"].status is ComponentStatus.FAILED
    assert result.components["lora"].failure_reason == "load_adapter raised for adapter lora: boom"


def test_a_deleted_adapter_is_unloaded_before_it_goes() -> None:
    where = placement(("base", 1, 1))
    base = component("base", status=ComponentStatus.IN_SERVICE, desired_copies=1)
    adapter = component(
        "lora",
        status=ComponentStatus.DELETING,
        generation=2,
        spec={"BaseInferenceComponentName": "base", "Container": {"ArtifactUrl": "s3://b/k"}},
    )
    state = EndpointCopies()
    running(state, where, "base-1")
    state.slots["base-1"].loaded.add("lora.v2")
    result = run(state, where, base, adapter)
    assert result.unload == {"lora": ("lora.v2",)} and result.deleted == []
    state.slots["base-1"].loaded.clear()
    assert run(state, where, base, adapter).deleted == [adapter]
