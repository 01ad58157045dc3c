"""The loaded model: script import, ``model_fn``, and the adapter hooks.

:func:`load` runs once, in a worker thread, while ``/ping`` answers 503: it
imports the script and binds its handlers (:mod:`moorage.container.handlers`),
calls ``model_fn`` and builds the request :class:`~moorage.container.pipeline.Pipeline`.
It raises :class:`StartupError` with exit code ``SCRIPT`` or ``MODEL_FN``;
:mod:`moorage.container.server` reports it and ends the process.

:class:`LoadedModel` also calls the adapter hooks for
:mod:`moorage.container.adapters`, which keeps the registry of names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from moorage.container.context import Context
from moorage.container.errors import ExitCode, InvocationError, StartupError
from moorage.container.handlers import Handlers, bind, import_script, script_path
from moorage.container.pipeline import Pipeline


@dataclass(frozen=True)
class ModelSettings:
    model_dir: Path
    program: str
    default_accept: str
    # The inference code's directory; None means model_dir/code.
    code_dir: Path | None = None


class LoadedModel:
    def __init__(self, settings: ModelSettings, handlers: Handlers, model: object) -> None:
        self.settings = settings
        self.handlers = handlers
        self.model = model
        self.model_dir = str(settings.model_dir)
        self.system_properties = system_properties(settings.model_dir)
        self.pipeline = Pipeline(handlers, model, default_accept=settings.default_accept)
        self.request_context = handlers.request_context

    def context(self, adapter: str | None = None) -> Context:
        return Context(self.model_dir, self.system_properties, adapter=adapter)

    def load_adapter(self, name: str, adapter_dir: str) -> None:
        hook = self.handlers.load_adapter
        if hook is None:
            raise InvocationError(
                400,
                f"The inference script {self.handlers.script} defines no "
                "load_adapter(model, name, adapter_dir) hook, so adapters cannot be loaded "
                "into this model.",
            )
        hook.call(self.context(name), self.model, name, adapter_dir)

    def unload_adapter(self, name: str) -> None:
        hook = self.handlers.unload_adapter
        if hook is not None:
            hook.call(self.context(name), self.model, name)


def system_properties(model_dir: Path) -> Mapping[str, object]:
    """The toolkit's ``context.system_properties``: ``model_dir``, ``gpu_id`` (0 or None)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    gpu_id = 0 if visible and visible != "-1" else None
    return MappingProxyType({"model_dir": str(model_dir), "gpu_id": gpu_id})


def load(settings: ModelSettings) -> LoadedModel:
    """Import the script, call ``model_fn`` and get ready to serve."""
    if not settings.model_dir.is_dir():
        raise StartupError(
            ExitCode.SCRIPT, f"The model directory {settings.model_dir} does not exist."
        )
    path = script_path(settings.model_dir, settings.program, settings.code_dir)
    handlers = bind(import_script(path), path, default_accept=settings.default_accept)
    context = Context(str(settings.model_dir), system_properties(settings.model_dir))
    try:
        model = handlers.model_fn.call(context, str(settings.model_dir))
    except (Exception, SystemExit) as exc:
        raise StartupError(
            ExitCode.MODEL_FN, f"model_fn raised {type(exc).__name__}: {exc}"
        ) from exc
    return LoadedModel(settings, handlers, model)
