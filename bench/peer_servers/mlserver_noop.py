"""MLServer's side of ``bench/peers.py``: the no-op model as a custom ``MLModel`` runtime.

``bench/peers.py`` writes a model folder whose ``model-settings.json`` names
``mlserver_noop.Noop`` and starts ``mlserver start FOLDER`` with the peers'
MLServer venv (this folder on ``PYTHONPATH``). ``POST /v2/models/noop/infer``
(the v2 inference protocol) answers one INT64 output holding 1.
"""

from __future__ import annotations

from mlserver import MLModel
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput

OUTPUT = [ResponseOutput(name="ok", shape=[1], datatype="INT64", data=[1])]


class Noop(MLModel):  # type: ignore[misc]
    async def load(self) -> bool:
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        return InferenceResponse(model_name=self.name, outputs=OUTPUT)
