"""A script using the context: custom attributes, streaming, adapters, SAGEMAKER_PROGRAM."""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

SCRIPT = """
    import json
    import os
    import time

    from helpers import double  # a sibling module of the script


    class Model:
        def __init__(self, model_dir):
            self.model_dir = model_dir
            self.adapters = {}


    def model_fn(model_dir, context):
        assert context.system_properties["model_dir"] == model_dir
        return Model(model_dir)


    def input_fn(input_data, content_type, context):
        return {"request": json.loads(input_data), "type": type(input_data).__name__}


    def predict_fn(data, model, context):
        if context.custom_attributes:
            context.set_custom_attributes("echo:" + context.custom_attributes)
        request = data["request"]
        kind = request.get("kind")
        if kind == "stream":
            return _stream(request["gate"])
        if kind == "stream-fail":
            return _failing_stream()
        if kind == "stream-forever":
            return _endless_stream(request["closed"])
        if kind == "sleep":
            time.sleep(request["seconds"])
        if kind == "fail":
            raise ValueError("predict failed on purpose")
        return {
            "adapter": context.adapter,
            "weights": model.adapters.get(context.adapter),
            "double": double(request.get("x", 0)),
            "input_type": data["type"],
            "header": context.get_request_header(0, "X-Thing"),
        }


    def _stream(gate):
        yield "first\\n"
        deadline = time.monotonic() + 20
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.01)
        yield {"n": 2}
        yield b"end"


    def _failing_stream():
        yield "a"
        yield "b"
        raise RuntimeError("mid-stream failure")


    def _endless_stream(closed):
        try:
            while True:
                yield "tick "
                time.sleep(0.02)
        finally:
            open(closed, "w").close()


    def load_adapter(model, name, adapter_dir):
        if name == "broken":
            raise RuntimeError("cannot load the broken adapter")
        with open(os.path.join(adapter_dir, "weights.txt")) as handle:
            model.adapters[name] = handle.read()


    def unload_adapter(model, name, context):
        assert context.adapter == name
        model.adapters.pop(name)
"""

HELPERS = """
    def double(x):
        return 2 * x
"""


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, module_servers: Any, model_dir_factory: Any
) -> Any:
    model_dir = model_dir_factory(
        tmp_path_factory.mktemp("features"),
        SCRIPT,
        program="entry.py",
        files={"code/helpers.py": HELPERS},
    )
    return module_servers.start(model_dir, {"SAGEMAKER_PROGRAM": "entry.py"})


def test_program_sibling_import_and_context(server: Any) -> None:
    response = server.invoke(json.dumps({"x": 21}), **{"X-Thing": "yes"})
    assert response.status == 200, response.text
    assert json.loads(response.body) == {
        "adapter": None,
        "weights": None,
        "double": 42,
        "input_type": "str",
        "header": "yes",
    }


def test_custom_attributes_both_ways(server: Any) -> None:
    response = server.invoke("{}", **{"X-Amzn-SageMaker-Custom-Attributes": "trace=7"})
    assert response.status == 200
    assert response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "echo:trace=7"
    plain = server.invoke("{}")
    assert "X-Amzn-SageMaker-Custom-Attributes" not in plain.headers


def test_handler_exception_is_500_with_message(server: Any) -> None:
    response = server.invoke(json.dumps({"kind": "fail"}))
    assert response.status == 500
    assert response.text == "ValueError: predict failed on purpose"


def test_stream_chunks_arrive_before_generator_finishes(server: Any, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    conn = server.connection()
    try:
        conn.request(
            "POST",
            "/invocations",
            json.dumps({"kind": "stream", "gate": str(gate)}),
            {"Content-Type": "application/json"},
        )
        response = conn.getresponse()
        assert response.status == 200
        assert response.headers["Transfer-Encoding"] == "chunked"
        # The generator is parked until the gate file exists: this chunk can
        # only be here if it was sent as soon as it was produced.
        assert response.read1() == b"first\n"
        gate.touch()
        assert response.read() == b'{"n": 2}\nend'
    finally:
        conn.close()


def test_stream_failure_is_detectable(server: Any) -> None:
    conn = server.connection()
    try:
        conn.request(
            "POST",
            "/invocations",
            json.dumps({"kind": "stream-fail"}),
            {"Content-Type": "application/json"},
        )
        response = conn.getresponse()
        assert response.status == 200
        with pytest.raises(http.client.IncompleteRead) as caught:
            response.read()
        assert caught.value.partial == b"ab"
    finally:
        conn.close()
    assert "mid-stream failure" in server.stderr


def test_client_leaving_mid_stream_closes_the_generator(server: Any, tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    conn = server.connection()
    try:
        conn.request(
            "POST",
            "/invocations",
            json.dumps({"kind": "stream-forever", "closed": str(closed)}),
            {"Content-Type": "application/json"},
        )
        response = conn.getresponse()
        assert response.read1().startswith(b"tick")
    finally:
        conn.close()
    deadline = time.monotonic() + 5
    while not closed.exists():
        assert time.monotonic() < deadline, "the generator was not closed"
        time.sleep(0.02)


def test_ping_stays_responsive_during_a_long_prediction(server: Any) -> None:
    results: list[int] = []
    slow = threading.Thread(
        target=lambda: results.append(
            server.invoke(json.dumps({"kind": "sleep", "seconds": 1.5})).status
        )
    )
    slow.start()
    try:
        time.sleep(0.2)
        started = time.monotonic()
        assert server.ping_status() == 200
        assert server.invoke("{}").status == 200  # another handler thread
        assert time.monotonic() - started < 1.0
    finally:
        slow.join()
    assert results == [200]


def test_adapters_load_select_unload(server: Any, tmp_path: Path) -> None:
    adapter_dir = tmp_path / "adapter"
    adapter_dir.mkdir()
    (adapter_dir / "weights.txt").write_text("lora-weights")

    def post(name: str, path: Path) -> Any:
        return server.request("POST", "/adapters", json.dumps({"name": name, "path": str(path)}))

    assert post("missing", tmp_path / "nope").status == 400
    broken = post("broken", adapter_dir)
    assert broken.status == 500
    assert "cannot load the broken adapter" in broken.text
    assert post("lora-1", adapter_dir).status == 200
    assert post("lora-1", adapter_dir).status == 409
    assert json.loads(server.request("GET", "/adapters").body) == {"adapters": ["lora-1"]}

    selected = server.invoke("{}", **{"X-Moorage-Adapter": "lora-1"})
    assert selected.status == 200
    assert json.loads(selected.body)["weights"] == "lora-weights"
    assert json.loads(selected.body)["adapter"] == "lora-1"

    unknown = server.invoke("{}", **{"X-Moorage-Adapter": "broken"})
    assert unknown.status == 404
    assert "broken" in unknown.text

    assert server.request("DELETE", "/adapters/lora-1").status == 200
    assert server.invoke("{}", **{"X-Moorage-Adapter": "lora-1"}).status == 404
    assert server.request("DELETE", "/adapters/lora-1").status == 404
    assert json.loads(server.request("GET", "/adapters").body) == {"adapters": []}
