"""A scikit-learn model behind the default handlers: codecs, negotiation, error bodies."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

SCRIPT = """
    import os

    import joblib


    def model_fn(model_dir):
        return joblib.load(os.path.join(model_dir, "model.joblib"))
"""

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


@pytest.fixture(scope="module")
def model() -> LogisticRegression:
    features, labels = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=500).fit(features, labels)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    module_servers: Any,
    model_dir_factory: Any,
    model: LogisticRegression,
) -> Any:
    model_dir: Path = model_dir_factory(tmp_path_factory.mktemp("sklearn"), SCRIPT)
    joblib.dump(model, model_dir / "model.joblib")
    return module_servers.start(model_dir, {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"})


def expected(model: LogisticRegression, rows: list[list[float]]) -> list[int]:
    return [int(v) for v in model.predict(np.array(rows))]


def test_json_in_json_out(server: Any, model: LogisticRegression) -> None:
    response = server.invoke(json.dumps(ROWS), Accept="application/json")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.body) == expected(model, ROWS)


def test_csv_in_default_accept_out(server: Any, model: LogisticRegression) -> None:
    body = "\n".join(",".join(str(v) for v in row) for row in ROWS)
    response = server.invoke(body, "text/csv")
    # No Accept: SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (text/csv here) decides.
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv"
    assert [int(line) for line in response.text.split()] == expected(model, ROWS)


def test_single_csv_row_stays_two_dimensional(server: Any, model: LogisticRegression) -> None:
    response = server.invoke("6.7,3.0,5.2,2.3", "text/csv", Accept="*/*")
    assert response.status == 200, response.text
    assert response.text.strip() == str(expected(model, ROWS[1:2])[0])


def test_npy_round_trip(server: Any, model: LogisticRegression) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array(ROWS))
    response = server.invoke(buffer.getvalue(), "application/x-npy", Accept="application/x-npy")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/x-npy"
    result = np.load(io.BytesIO(response.body), allow_pickle=False)
    assert result.tolist() == expected(model, ROWS)


def test_accept_list_picks_first_supported(server: Any) -> None:
    response = server.invoke(json.dumps(ROWS), Accept="image/png, application/json;q=0.9")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"


def test_unsupported_content_type_is_415(server: Any) -> None:
    response = server.invoke(b"\x89PNG", "image/png")
    assert response.status == 415
    assert "image/png" in response.text


def test_unsupported_accept_is_406(server: Any) -> None:
    response = server.invoke(json.dumps(ROWS), Accept="application/xml")
    assert response.status == 406
    assert "application/xml" in response.text


def test_malformed_body_is_400(server: Any) -> None:
    response = server.invoke("[[1, 2,", Accept="application/json")
    assert response.status == 400
    assert "application/json" in response.text


def test_model_error_is_500_with_message(server: Any) -> None:
    response = server.invoke("[[1, 2, 3]]", Accept="application/json")
    assert response.status == 500
    assert response.text.startswith("ValueError: ")
    assert "features" in response.text
    assert "Traceback" in server.stderr


def test_absurd_body_is_413_before_it_is_sent(server: Any) -> None:
    conn = server.connection()
    try:
        conn.putrequest("POST", "/invocations")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(200 * 1024 * 1024))
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 413
    finally:
        conn.close()


def test_routes_and_methods(server: Any) -> None:
    ping = server.request("GET", "/ping")
    assert ping.status == 200
    assert server.request("GET", "/invocations").status == 405
    assert server.request("GET", "/nowhere").status == 404


def test_adapter_without_hook_is_400(server: Any, tmp_path: Path) -> None:
    response = server.request(
        "POST", "/adapters", json.dumps({"name": "a1", "path": str(tmp_path)})
    )
    assert response.status == 400
    assert "load_adapter" in response.text
    assert json.loads(server.request("GET", "/adapters").body) == {"adapters": []}


def test_keep_alive_connection_serves_many_requests(server: Any) -> None:
    conn = server.connection()
    try:
        for _ in range(3):
            conn.request(
                "POST", "/invocations", json.dumps(ROWS[:1]), {"Content-Type": "application/json"}
            )
            response = conn.getresponse()
            assert response.status == 200
            response.read()
    finally:
        conn.close()
