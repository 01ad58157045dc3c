"""The code directory given apart from the model (``--code-dir`` / ``MOORAGE_CODE_DIR``)
and ``SAGEMAKER_CONTAINER_LOG_LEVEL``, in real model-server processes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from support.ports import free_port

SERVE = """
    import logging

    import sibling

    log = logging.getLogger("user.script")


    def model_fn(model_dir):
        log.debug("debug line from model_fn")
        log.info("info line from model_fn")
        return sibling.WHERE


    def predict_fn(data, model):
        return {"served_from": model}
"""


def code_folder(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "serve.py").write_text(textwrap.dedent(SERVE))
    (root / "sibling.py").write_text("WHERE = 'code dir'\n")
    return root


def test_code_dir_replaces_the_models_code(
    servers: Any, model_dir_factory: Any, tmp_path: Path
) -> None:
    # The model's own code/serve.py is an older script: it must not run.
    model = model_dir_factory(
        tmp_path / "model",
        "def model_fn(d):\n    return 'model archive'\n",
        program="serve.py",
    )
    code = code_folder(tmp_path / "code-elsewhere")
    env = {
        "SAGEMAKER_PROGRAM": "serve.py",
        "MOORAGE_CODE_DIR": str(code),
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "10",
    }
    server = servers.start(model, env)
    response = server.invoke("{}")
    assert response.status == 200, response.text
    assert json.loads(response.body) == {"served_from": "code dir"}
    stderr = server.stderr
    assert "DEBUG user.script: debug line from model_fn" in stderr
    assert "INFO user.script: info line from model_fn" in stderr


def test_log_level_filters_the_scripts_logging(
    servers: Any, model_dir_factory: Any, tmp_path: Path
) -> None:
    model = model_dir_factory(tmp_path / "model", "def model_fn(d):\n    return None\n")
    code = code_folder(tmp_path / "code")
    port = free_port()
    server = servers.start(
        model,
        {"SAGEMAKER_PROGRAM": "serve", "SAGEMAKER_CONTAINER_LOG_LEVEL": "WARNING"},
        ["--code-dir", str(code), "--port", str(port)],
        port=port,
    )
    assert json.loads(server.invoke("{}").body) == {"served_from": "code dir"}
    assert "line from model_fn" not in server.stderr


def test_missing_script_in_the_code_dir_names_it(
    servers: Any, model_dir_factory: Any, tmp_path: Path
) -> None:
    model = model_dir_factory(tmp_path / "model", "def model_fn(d):\n    return None\n")
    empty = tmp_path / "empty-code"
    empty.mkdir()
    server = servers.start(model, {"MOORAGE_CODE_DIR": str(empty)}, ready=False)
    assert server.wait_exit() == 3
    assert f"The inference script {empty / 'inference.py'} does not exist" in server.stderr
