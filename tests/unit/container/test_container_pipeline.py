"""One invocation through the pipeline with in-memory handlers, and the context object."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from moorage.container import codecs
from moorage.container.context import Context
from moorage.container.errors import InvocationError
from moorage.container.handlers import Handler, Handlers
from moorage.container.pipeline import Pipeline, next_chunk


def handlers(
    *,
    transform: Callable[..., Any] | None = None,
    predict: Callable[..., Any] | None = None,
    output: Callable[..., Any] | None = None,
    context: bool = False,
) -> Handlers:
    def make(name: str, fn: Callable[..., Any] | None, default: Callable[..., Any]) -> Handler:
        if fn is None:
            return Handler(name, default, takes_context=False, user_defined=False)
        return Handler(name, fn, takes_context=context, user_defined=True)

    return Handlers(
        script=Path("inference.py"),
        model_fn=Handler("model_fn", lambda d: None, takes_context=False, user_defined=True),
        input_fn=make("input_fn", None, codecs.decode_input),
        predict_fn=make("predict_fn", predict, codecs.predict),
        output_fn=make(
            "output_fn",
            output,
            functools.partial(codecs.encode_output, default_accept="application/json"),
        ),
        transform_fn=None if transform is None else make("transform_fn", transform, codecs.predict),
        load_adapter=None,
        unload_adapter=None,
    )


def context() -> Context:
    return Context("/m", {"model_dir": "/m"}, raw_headers=[(b"x-thing", b"v")])


def header(reply: Any, name: bytes) -> bytes | None:
    return dict(reply.headers).get(name)


def test_default_handlers_and_defaults_for_missing_headers() -> None:
    pipeline = Pipeline(handlers(), lambda data: data, default_accept="text/csv")
    reply = pipeline.invoke(b"[1, 2]", "", "", None)  # no Content-Type, no Accept
    assert reply.body == b"1\n2\n"
    assert header(reply, b"content-type") == b"text/csv"
    assert header(reply, b"content-length") == b"4"


def test_json_body_reaches_transform_fn_as_str_other_bodies_as_bytes() -> None:
    seen: list[object] = []

    def transform(model: Any, data: Any, content_type: str, accept: str) -> bytes:
        seen.append(data)
        return b"ok"

    pipeline = Pipeline(handlers(transform=transform), None, default_accept="application/json")
    pipeline.invoke(b"{}", "application/json; charset=utf-8", "*/*", None)
    pipeline.invoke(b"\x00", "application/octet-stream", "*/*", None)
    assert seen == ["{}", b"\x00"]


def test_invalid_utf8_json_is_400() -> None:
    pipeline = Pipeline(handlers(), None, default_accept="application/json")
    with pytest.raises(InvocationError) as caught:
        pipeline.invoke(b"\xff", "application/json", "", None)
    assert caught.value.status == 400


def test_output_tuple_sets_content_type_and_str_is_utf8() -> None:
    pipeline = Pipeline(
        handlers(output=lambda prediction, accept: ("héllo", "text/plain; charset=utf-8")),
        lambda data: data,
        default_accept="application/json",
    )
    reply = pipeline.invoke(b"1", "application/json", "", None)
    assert reply.body == "héllo".encode()
    assert header(reply, b"content-type") == b"text/plain; charset=utf-8"


def test_plain_output_is_typed_with_the_accept_value() -> None:
    pipeline = Pipeline(
        handlers(output=lambda prediction, accept: b"raw"), abs, default_accept="application/json"
    )
    reply = pipeline.invoke(b"1", "application/json", "text/x-mine", None)
    assert header(reply, b"content-type") == b"text/x-mine"


def test_output_of_wrong_type_is_an_error_naming_the_handler() -> None:
    pipeline = Pipeline(
        handlers(output=lambda prediction, accept: {"a": 1}), abs, default_accept="application/json"
    )
    with pytest.raises(TypeError, match="output_fn returned dict"):
        pipeline.invoke(b"1", "application/json", "", None)


def test_response_headers_from_the_context() -> None:
    def predict(data: Any, model: Any, ctx: Context) -> Any:
        assert ctx.get_request_header("X-Thing") == "v"
        ctx.set_custom_attributes("a=1")
        ctx.set_response_header(0, "Content-Type", "application/vnd.x")
        ctx.set_response_header("Content-Length", "999")  # framing stays the server's
        return [1]

    pipeline = Pipeline(
        handlers(predict=predict, context=True), None, default_accept="application/json"
    )
    reply = pipeline.invoke(b"1", "application/json", "", context())
    assert header(reply, b"x-amzn-sagemaker-custom-attributes") == b"a=1"
    assert header(reply, b"content-type") == b"application/vnd.x"
    assert header(reply, b"content-length") == b"3"


def test_header_value_with_newline_is_refused() -> None:
    def predict(data: Any, model: Any, ctx: Context) -> Any:
        ctx.set_custom_attributes("a\r\nb: c")
        return [1]

    pipeline = Pipeline(
        handlers(predict=predict, context=True), None, default_accept="application/json"
    )
    with pytest.raises(ValueError, match="control characters"):
        pipeline.invoke(b"1", "application/json", "", context())


def test_stream_first_chunk_is_pulled_in_the_pipeline() -> None:
    def predict(data: Any, model: Any) -> Iterator[object]:
        yield "a"
        yield {"b": 1}

    pipeline = Pipeline(handlers(predict=predict), None, default_accept="application/json")
    reply = pipeline.invoke(b"1", "application/json", "", None)
    assert reply.stream is not None
    assert reply.body == b"a"
    assert header(reply, b"content-length") is None
    assert next_chunk(reply.stream) == b'{"b": 1}\n'
    assert next_chunk(reply.stream) is None


def test_stream_failing_before_its_first_chunk_raises_from_invoke() -> None:
    def predict(data: Any, model: Any) -> Iterator[object]:
        raise RuntimeError("no output at all")
        yield "never"

    pipeline = Pipeline(handlers(predict=predict), None, default_accept="application/json")
    with pytest.raises(RuntimeError, match="no output at all"):
        pipeline.invoke(b"1", "application/json", "", None)


def test_empty_stream_is_an_empty_body() -> None:
    pipeline = Pipeline(
        handlers(predict=lambda d, m: iter(())), None, default_accept="application/json"
    )
    reply = pipeline.invoke(b"1", "application/json", "", None)
    assert reply.stream is None
    assert reply.body == b""


def test_context_request_headers_and_toolkit_forms() -> None:
    ctx = context()
    assert ctx.request_headers == {"x-thing": "v"}
    assert ctx.get_request_header(0, "x-THING") == "v"
    assert ctx.get_request_header("absent") is None
    ctx.set_response_header("A", "1")
    assert ctx.response_headers == {"A": "1"}
    with pytest.raises(TypeError):
        ctx.set_response_header("only-a-name")  # type: ignore[call-overload]
    assert Context("/m", {}).request_headers == {}
