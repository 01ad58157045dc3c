"""Loading the inference script and binding its handlers to the contract.

The script is ``inference.py`` in the code directory, ``DIR/code`` unless the
fleet fetched the code from ``SAGEMAKER_SUBMIT_DIRECTORY`` (``--code-dir``;
``SAGEMAKER_PROGRAM`` names another file there); that directory goes first on
``sys.path`` so the script can import its siblings. The SageMaker inference
toolkit's handler convention applies:

- ``model_fn(model_dir[, context])`` is required;
- ``input_fn(input_data, content_type[, context])``,
  ``predict_fn(data, model[, context])`` and
  ``output_fn(prediction, accept[, context])`` default to
  :mod:`moorage.container.codecs`;
- ``transform_fn(model, input_data, content_type, accept[, context])``
  replaces those three and may not be defined together with any of them;
- moorage's adapter hooks ``load_adapter(model, name, adapter_dir[, context])``
  and ``unload_adapter(model, name[, context])`` are optional.

Whether a handler takes the trailing context is decided once, here, from its
signature, so a request pays a boolean test and not an ``inspect`` call. Every
violation is a :class:`StartupError` with exit code ``SCRIPT``; the caller is
:mod:`moorage.container.model`.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

from moorage.container import codecs
from moorage.container.context import Context
from moorage.container.errors import ExitCode, StartupError

DEFAULT_PROGRAM = "inference.py"
# Used instead of the script's own stem when that would shadow an imported module.
_FALLBACK_MODULE = "moorage_inference_script"

# handler name -> its parameters before the optional context
CONTRACT: dict[str, tuple[str, ...]] = {
    "model_fn": ("model_dir",),
    "input_fn": ("input_data", "content_type"),
    "predict_fn": ("data", "model"),
    "output_fn": ("prediction", "accept"),
    "transform_fn": ("model", "input_data", "content_type", "accept"),
    "load_adapter": ("model", "name", "adapter_dir"),
    "unload_adapter": ("model", "name"),
}


@dataclass(frozen=True, slots=True)
class Handler:
    """One handler and whether it takes the context as its last argument."""

    name: str
    fn: Callable[..., Any]
    takes_context: bool
    user_defined: bool

    def call(self, context: Context | None, *args: Any) -> Any:
        if self.takes_context:
            return self.fn(*args, context)
        return self.fn(*args)


@dataclass(frozen=True, slots=True)
class Handlers:
    """The bound handlers of one script; ``transform_fn`` set means the other three are unused."""

    script: Path
    model_fn: Handler
    input_fn: Handler
    predict_fn: Handler
    output_fn: Handler
    transform_fn: Handler | None
    load_adapter: Handler | None
    unload_adapter: Handler | None

    @property
    def request_context(self) -> bool:
        """Whether any per-request handler takes a context (else none is built)."""
        if self.transform_fn is not None:
            return self.transform_fn.takes_context
        return any(h.takes_context for h in (self.input_fn, self.predict_fn, self.output_fn))


def script_path(model_dir: Path, program: str, code_dir: Path | None = None) -> Path:
    """Where the script lives: ``program`` may be a file name or a module name.

    It must stay inside the code directory (``code_dir``, by default
    ``model_dir/code``): CreateModel refuses other values, and this refuses
    those of models stored before it did.
    """
    name = program if program.endswith(".py") else f"{program}.py"
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise StartupError(
            ExitCode.USAGE,
            f"SAGEMAKER_PROGRAM={program!r} must name a file in the code directory "
            "(no absolute path, no '..').",
        )
    return (code_dir if code_dir is not None else model_dir / "code") / name


def import_script(path: Path) -> ModuleType:
    """Import the script as a module, with its directory first on ``sys.path``."""
    if not path.is_file():
        raise StartupError(
            ExitCode.SCRIPT,
            f"The inference script {path} does not exist; put inference.py in the code "
            "directory (the model's code/, or the code SAGEMAKER_SUBMIT_DIRECTORY names) or set "
            "SAGEMAKER_PROGRAM to the file that defines model_fn.",
        )
    code_dir = str(path.parent)
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    # Registered under its own name so that pickles referring to classes in the
    # script (``inference.MyModel``) load, as they do in the toolkit.
    module_name = path.stem if path.stem not in sys.modules else _FALLBACK_MODULE
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise StartupError(ExitCode.SCRIPT, f"The inference script {path} cannot be imported.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(module_name, None)
        raise StartupError(
            ExitCode.SCRIPT,
            f"Importing the inference script {path} raised {type(exc).__name__}: {exc}",
        ) from exc
    return module


def bind(script: ModuleType, path: Path, *, default_accept: str) -> Handlers:
    """Check the script against the handler contract and bind its handlers."""
    found = {name: getattr(script, name, None) for name in CONTRACT}
    for name, fn in found.items():
        if fn is not None and not callable(fn):
            raise StartupError(
                ExitCode.SCRIPT,
                f"{name} in {path} must be a function, not {type(fn).__name__}.",
            )
    if found["model_fn"] is None:
        raise StartupError(
            ExitCode.SCRIPT,
            f"The inference script {path} defines no model_fn(model_dir); it is required "
            "to load the model.",
        )
    three = [n for n in ("input_fn", "predict_fn", "output_fn") if found[n] is not None]
    if found["transform_fn"] is not None and three:
        raise StartupError(
            ExitCode.SCRIPT,
            f"The inference script {path} defines transform_fn together with "
            f"{', '.join(three)}; transform_fn replaces input_fn, predict_fn and output_fn, "
            "so define either transform_fn or those.",
        )
    defaults: dict[str, Callable[..., Any]] = {
        "input_fn": codecs.decode_input,
        "predict_fn": codecs.predict,
        "output_fn": functools.partial(codecs.encode_output, default_accept=default_accept),
    }

    def handler(name: str) -> Handler:
        fn = found[name]
        if fn is None:
            return Handler(name, defaults[name], takes_context=False, user_defined=False)
        return Handler(name, fn, takes_context=takes_context(name, fn, path), user_defined=True)

    def optional(name: str) -> Handler | None:
        return handler(name) if found[name] is not None else None

    return Handlers(
        script=path,
        model_fn=handler("model_fn"),
        input_fn=handler("input_fn"),
        predict_fn=handler("predict_fn"),
        output_fn=handler("output_fn"),
        transform_fn=optional("transform_fn"),
        load_adapter=optional("load_adapter"),
        unload_adapter=optional("unload_adapter"),
    )


def takes_context(name: str, fn: Callable[..., Any], path: Path) -> bool:
    """Whether ``fn`` takes the context after the contract's arguments.

    Decided by trying to bind the contract's positional arguments with and
    without one more, so defaults and ``*args`` count as they would in a call.
    """
    arity = len(CONTRACT[name])
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins and extension types have none
        return False
    for count, with_context in ((arity + 1, True), (arity, False)):
        try:
            signature.bind(*range(count))
        except TypeError:
            continue
        return with_context
    wanted = ", ".join(CONTRACT[name])
    raise StartupError(
        ExitCode.SCRIPT,
        f"{name}{signature} in {path} cannot be called as {name}({wanted}) "
        f"or {name}({wanted}, context).",
    )
