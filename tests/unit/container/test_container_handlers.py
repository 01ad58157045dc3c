"""Script loading and the handler contract: arity detection and load errors."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from moorage.container.errors import ExitCode, StartupError
from moorage.container.handlers import bind, import_script, script_path, takes_context
from moorage.container.model import ModelSettings, load

HERE = Path("inference.py")


@pytest.fixture(autouse=True)
def _restore_import_state() -> Iterator[None]:
    path = list(sys.path)
    modules = set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def write_script(root: Path, body: str, name: str = "inference.py") -> Path:
    code = root / "code"
    code.mkdir(parents=True, exist_ok=True)
    path = code / name
    path.write_text(textwrap.dedent(body))
    return path


def _two(a: Any, b: Any) -> None: ...
def _three(a: Any, b: Any, c: Any) -> None: ...
def _optional_context(a: Any, b: Any, context: Any = None) -> None: ...
def _varargs(*args: Any) -> None: ...
def _kwargs(a: Any, b: Any, **extra: Any) -> None: ...
def _one(a: Any) -> None: ...
def _keyword_only(a: Any, b: Any, *, c: Any) -> None: ...


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (_two, False),
        (_three, True),
        (_optional_context, True),
        (_varargs, True),
        (_kwargs, False),
    ],
)
def test_context_parameter_is_detected_by_signature(fn: Callable[..., Any], expected: bool) -> None:
    assert takes_context("predict_fn", fn, HERE) is expected


@pytest.mark.parametrize("fn", [_one, _keyword_only])
def test_uncallable_signature_is_a_script_error(fn: Callable[..., Any]) -> None:
    with pytest.raises(StartupError) as caught:
        takes_context("predict_fn", fn, HERE)
    assert caught.value.code == ExitCode.SCRIPT
    assert "predict_fn(data, model)" in caught.value.reason


def test_builtins_without_signature_take_no_context() -> None:
    assert takes_context("model_fn", max, HERE) is False


def test_defaults_fill_missing_handlers(tmp_path: Path) -> None:
    path = write_script(tmp_path, "def model_fn(model_dir, context):\n    return 1\n")
    handlers = bind(import_script(path), path, default_accept="text/csv")
    assert handlers.model_fn.takes_context
    assert not handlers.predict_fn.user_defined
    assert handlers.transform_fn is None
    assert handlers.load_adapter is None
    assert not handlers.request_context


def test_missing_model_fn(tmp_path: Path) -> None:
    path = write_script(tmp_path, "def predict_fn(data, model):\n    return data\n")
    with pytest.raises(StartupError, match="defines no model_fn") as caught:
        bind(import_script(path), path, default_accept="application/json")
    assert caught.value.code == ExitCode.SCRIPT


def test_transform_fn_is_exclusive(tmp_path: Path) -> None:
    path = write_script(
        tmp_path,
        """
        def model_fn(model_dir): ...
        def transform_fn(model, data, content_type, accept): ...
        def input_fn(data, content_type): ...
        def output_fn(prediction, accept): ...
        """,
    )
    with pytest.raises(StartupError) as caught:
        bind(import_script(path), path, default_accept="application/json")
    assert "transform_fn together with input_fn, output_fn" in caught.value.reason


def test_handler_that_is_not_a_function(tmp_path: Path) -> None:
    path = write_script(tmp_path, "def model_fn(model_dir): ...\npredict_fn = 3\n")
    with pytest.raises(StartupError, match=r"predict_fn in .* must be a function, not int"):
        bind(import_script(path), path, default_accept="application/json")


def test_missing_script(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="does not exist") as caught:
        import_script(tmp_path / "code" / "inference.py")
    assert caught.value.code == ExitCode.SCRIPT


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("def model_fn(:\n", "SyntaxError"),
        ("import no_such_module_anywhere\n", "ModuleNotFoundError"),
        ("raise SystemExit(3)\n", "SystemExit"),
    ],
)
def test_script_that_does_not_import(tmp_path: Path, body: str, reason: str) -> None:
    path = write_script(tmp_path, body)
    with pytest.raises(StartupError, match=reason) as caught:
        import_script(path)
    assert caught.value.code == ExitCode.SCRIPT


def test_script_imports_its_siblings(tmp_path: Path) -> None:
    write_script(tmp_path, "VALUE = 41\n", name="sibling_for_test.py")
    path = write_script(
        tmp_path, "from sibling_for_test import VALUE\ndef model_fn(d):\n    return VALUE + 1\n"
    )
    assert import_script(path).model_fn("x") == 42


def test_program_may_be_a_module_name(tmp_path: Path) -> None:
    assert script_path(tmp_path, "serve") == tmp_path / "code" / "serve.py"
    assert script_path(tmp_path, "serve.py") == tmp_path / "code" / "serve.py"


def test_load_reports_model_fn_failure(tmp_path: Path) -> None:
    write_script(tmp_path, "def model_fn(model_dir):\n    raise ValueError('bad weights')\n")
    with pytest.raises(StartupError) as caught:
        load(ModelSettings(tmp_path, "inference.py", "application/json"))
    assert caught.value.code == ExitCode.MODEL_FN
    assert caught.value.reason == "model_fn raised ValueError: bad weights"


def test_load_with_missing_model_dir(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="does not exist"):
        load(ModelSettings(tmp_path / "absent", "inference.py", "application/json"))
