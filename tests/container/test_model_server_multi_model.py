"""The model server in multi-model mode: SageMaker's /models contract, model by model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SCRIPT = """
    import json
    import os


    def model_fn(model_dir):
        with open(os.path.join(model_dir, "tag.txt")) as handle:
            tag = handle.read().strip()
        if tag == "broken":
            raise ValueError("weights are corrupt")
        return tag


    def transform_fn(model, input_data, content_type, accept):
        return json.dumps({"tag": model, "input": json.loads(input_data)}), "application/json"
"""


@pytest.fixture(scope="module")
def mme(
    module_servers: Any,
    tmp_path_factory: pytest.TempPathFactory,
    model_dir_factory: Callable[..., Path],
) -> Any:
    root = tmp_path_factory.mktemp("mme")
    for tag in ("alpha", "beta", "broken"):
        model_dir_factory(root / tag, SCRIPT, files={"tag.txt": tag})
    (root / "nothing").mkdir()
    started = module_servers.start(root / "nothing", env={"SAGEMAKER_MULTI_MODEL": "true"})
    started.root = root
    return started


def load(mme: Any, name: str, folder: str) -> Any:
    body = json.dumps({"model_name": name, "url": str(mme.root / folder)})
    return mme.request("POST", "/models", body, {"Content-Type": "application/json"})


def test_ready_with_no_model_and_no_invocations_route(mme: Any) -> None:
    assert mme.ping_status() == 200
    assert mme.request("GET", "/models").body == b'{"models": []}'
    answer = mme.invoke("{}")
    assert answer.status == 404 and "/models/NAME/invoke" in answer.text


def test_load_invoke_list_describe_and_unload(mme: Any) -> None:
    assert load(mme, "a", "alpha").status == 200
    assert load(mme, "b", "beta").status == 200
    assert load(mme, "a", "alpha").status == 409
    answer = mme.request(
        "POST", "/models/a/invoke", '{"x": 1}', {"Content-Type": "application/json"}
    )
    assert answer.status == 200 and json.loads(answer.body) == {"tag": "alpha", "input": {"x": 1}}
    answer = mme.request("POST", "/models/b/invoke", "[2]", {"Content-Type": "application/json"})
    assert json.loads(answer.body)["tag"] == "beta"
    listed = json.loads(mme.request("GET", "/models").body)["models"]
    assert [m["modelName"] for m in listed] == ["a", "b"]
    assert listed[0]["modelUrl"] == str(mme.root / "alpha")
    page = json.loads(mme.request("GET", "/models?limit=1").body)
    assert [m["modelName"] for m in page["models"]] == ["a"] and page["nextPageToken"] == "1"
    page = json.loads(mme.request("GET", "/models?limit=1&next_page_token=1").body)
    assert [m["modelName"] for m in page["models"]] == ["b"] and "nextPageToken" not in page
    described = json.loads(mme.request("GET", "/models/b").body)
    assert described == {"modelName": "b", "modelUrl": str(mme.root / "beta")}
    assert mme.request("DELETE", "/models/b").status == 200
    assert mme.request("GET", "/models/b").status == 404
    assert mme.request("DELETE", "/models/b").status == 404
    missing = mme.request("POST", "/models/b/invoke", "{}", {"Content-Type": "application/json"})
    assert missing.status == 404 and "not loaded" in missing.text


def test_loads_that_fail_say_why_and_keep_the_server_serving(mme: Any) -> None:
    answer = load(mme, "x", "broken")
    assert answer.status == 500 and "weights are corrupt" in answer.text
    assert mme.request("GET", "/models/x").status == 404
    answer = load(mme, "y", "no-such-folder")
    assert answer.status == 404 and "does not exist" in answer.text
    for body in (
        b"not json",
        b"[]",
        b'{"model_name": "a/b", "url": "/tmp"}',
        b'{"model_name": "z"}',
    ):
        assert mme.request("POST", "/models", body).status == 400
    assert mme.request("GET", "/models?limit=-1").status == 400
    assert mme.request("PUT", "/models").status == 405
    assert mme.ping_status() == 200
