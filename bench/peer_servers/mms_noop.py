"""The SageMaker inference toolkit's side of ``bench/peers.py``: Multi Model Server.

Run with the peers' MMS venv, in a scratch folder, with ``SAGEMAKER_BASE_DIR``
pointing at a folder whose ``model/code/inference.py`` is the no-op model
(the same file moorage serves) and ``SAGEMAKER_BIND_TO_PORT`` set. It starts
MMS the way the SageMaker framework containers do
(``sagemaker_inference.model_server.start_model_server()`` with the toolkit's
default handler service), with two changes: the generated MMS configuration
is written into the current folder instead of ``/etc``, and MMS listens on
127.0.0.1 instead of every interface. ``POST /invocations`` then goes through
MMS's Java frontend to one Python worker (the toolkit's default) and the
model's ``transform_fn``.
"""

from __future__ import annotations

import os
from typing import Any

from sagemaker_inference import model_server

generate = model_server._generate_mms_config_properties


def loopback_config(env: Any, handler_service: Any = None) -> str:
    return str(generate(env, handler_service)).replace("0.0.0.0", "127.0.0.1")


if __name__ == "__main__":
    model_server.MMS_CONFIG_FILE = os.path.join(os.getcwd(), "mms.properties")
    model_server._generate_mms_config_properties = loopback_config
    model_server.start_model_server()
