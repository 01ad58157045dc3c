"""The model server process: moorage's SageMaker framework inference container.

The local fleet (:mod:`moorage.fleet.local`) starts one per model copy as
``python -m moorage.container --model-dir DIR --port N``; the router
(:mod:`moorage.runtime`) health-checks ``GET /ping`` and forwards invocations
to ``POST /invocations``. Inside, the modules are:

- :mod:`~moorage.container.server`: process life: bind, serve, load, drain, exit status
- :mod:`~moorage.container.options`: command line and environment
- :mod:`~moorage.container.lifecycle`: failure file and orphan protection
- :mod:`~moorage.container.app`: the raw ASGI app (ping, invocations, streaming)
- :mod:`~moorage.container.http`: ASGI plumbing shared by the endpoints
- :mod:`~moorage.container.adapters`: adapter registry and ``/adapters`` endpoints
- :mod:`~moorage.container.model`: script import + ``model_fn``, adapter hooks
- :mod:`~moorage.container.handlers`: the handler contract and signature binding
- :mod:`~moorage.container.pipeline`: one invocation, run in the handler pool
- :mod:`~moorage.container.codecs`: default input_fn / predict_fn / output_fn
- :mod:`~moorage.container.context`: the context object handlers may take

The contract is documented in ``docs/model-server.md``. Inference scripts may
import :class:`Context` from here for type hints.
"""

from moorage.container.context import Context

__all__ = ["Context"]
