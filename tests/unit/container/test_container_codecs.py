"""Default input_fn / predict_fn / output_fn and the chunk encoder."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from moorage.container import codecs
from moorage.container.errors import InvocationError


def npy(value: object) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(value))
    return buffer.getvalue()


def encode(value: object, accept: str, default_accept: str) -> tuple[bytes, str]:
    result = codecs.encode_output(value, accept, default_accept)
    assert isinstance(result, tuple)
    body, content_type = result
    return body, content_type


def test_media_type_ignores_parameters_and_case() -> None:
    assert codecs.media_type("Application/JSON; charset=utf-8") == "application/json"
    assert codecs.media_type(" text/csv ") == "text/csv"


def test_decode_json() -> None:
    assert codecs.decode_input('{"a": [1, 2]}', "application/json") == {"a": [1, 2]}
    assert codecs.decode_input(b"[1]", "application/json; charset=utf-8") == [1]


@pytest.mark.parametrize(
    ("body", "shape"),
    [("1,2,3", (1, 3)), ("1\n2\n3", (3, 1)), ("1,2\n3,4\n", (2, 2))],
)
def test_decode_csv_is_two_dimensional(body: str, shape: tuple[int, int]) -> None:
    array = codecs.decode_input(body, "text/csv")
    assert isinstance(array, np.ndarray)
    assert array.shape == shape
    assert array.dtype == np.float64


def test_decode_npy_without_pickle() -> None:
    array = codecs.decode_input(npy([[1.5, 2.5]]), "application/x-npy")
    assert isinstance(array, np.ndarray)
    assert array.tolist() == [[1.5, 2.5]]
    pickled = npy(np.array([{"a": 1}], dtype=object))
    with pytest.raises(InvocationError) as caught:
        codecs.decode_input(pickled, "application/x-npy")
    assert caught.value.status == 400


def test_unsupported_content_type_is_415_naming_it() -> None:
    with pytest.raises(InvocationError) as caught:
        codecs.decode_input(b"x", "application/x-protobuf")
    assert caught.value.status == 415
    assert "application/x-protobuf" in caught.value.message


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("[1,", "application/json"),
        ("a,b", "text/csv"),
        ("", "text/csv"),
        (b"xx", "application/x-npy"),
    ],
)
def test_undecodable_body_is_400(body: str | bytes, content_type: str) -> None:
    with pytest.raises(InvocationError) as caught:
        codecs.decode_input(body, content_type)
    assert caught.value.status == 400


def test_predict_prefers_predict_method_then_call() -> None:
    class WithPredict:
        def predict(self, data: object) -> str:
            return "predict"

        def __call__(self, data: object) -> str:
            return "call"

    assert codecs.predict(1, WithPredict()) == "predict"
    assert codecs.predict(3, lambda data: data * 2) == 6
    with pytest.raises(TypeError, match="no predict\\(\\) method and is not callable"):
        codecs.predict(1, object())


def test_encode_json_converts_numpy() -> None:
    value = {"a": np.arange(3), "b": np.float32(1.5), "c": [np.int64(2)]}
    body, content_type = encode(value, "application/json", "application/json")
    assert content_type == "application/json"
    assert json.loads(body) == {"a": [0, 1, 2], "b": 1.5, "c": [2]}


def test_encode_csv_and_npy() -> None:
    body, content_type = encode(np.array([1, 2]), "text/csv", "application/json")
    assert (body, content_type) == (b"1\n2\n", "text/csv")
    body, _ = encode([[1, 2], [3, 4]], "text/csv", "application/json")
    assert body == b"1,2\n3,4\n"
    body, content_type = encode([1.0], "application/x-npy", "application/json")
    assert content_type == "application/x-npy"
    assert np.load(io.BytesIO(body)).tolist() == [1.0]


def test_accept_negotiation() -> None:
    _, picked = encode([1], "image/png, text/csv;q=0.5", "application/json")
    assert picked == "text/csv"
    _, picked = encode([1], "image/png, */*", "application/x-npy")
    assert picked == "application/x-npy"
    with pytest.raises(InvocationError) as caught:
        encode([1], "application/xml", "application/json")
    assert caught.value.status == 406
    assert "application/xml" in caught.value.message


def test_streams_pass_through_the_default_output_fn() -> None:
    stream = iter([1, 2])
    assert codecs.encode_output(stream, "application/json", "application/json") is stream
    assert codecs.is_stream(x for x in [])
    assert not codecs.is_stream([1])
    assert not codecs.is_stream(b"x")
    assert not codecs.is_stream(np.arange(2))


def test_encode_chunk() -> None:
    assert codecs.encode_chunk(b"raw") == b"raw"
    assert codecs.encode_chunk("tök") == "tök".encode()
    assert codecs.encode_chunk(bytearray(b"ba")) == b"ba"
    assert codecs.encode_chunk({"t": np.int32(1)}) == b'{"t": 1}\n'
