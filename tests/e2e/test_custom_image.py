"""An image URI mapped to the user's own server, started with the contract's port and model dir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.archives import write_archive
from support.endpoints import create_endpoint, create_model, delete, variant, wait_in_service
from support.server import running

# A contract-compliant server with nothing but the standard library.
SERVER = """
import http.server
import os
import sys

PORT = int(os.environ["SAGEMAKER_BIND_TO_PORT"])
MODEL_DIR = sys.argv[1]
GREETING = open(os.path.join(MODEL_DIR, "greeting.txt")).read().strip()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _reply(self, status, body, kind="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._reply(200 if self.path == "/ping" else 404, b"{}")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._reply(200, (GREETING + " " + body.decode()).encode(), "text/plain")

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
"""


def test_image_map_runs_the_users_server(tmp_path: Path) -> None:
    script = tmp_path / "my_server.py"
    script.write_text(SERVER)
    image_map = tmp_path / "images.json"
    image_map.write_text(
        json.dumps(
            {
                "images": [
                    {
                        "match": "*/my-server:*",
                        "name": "my-server-local",
                        "command": ["{python}", str(script), "{model_dir}"],
                    }
                ]
            }
        )
    )
    archive = write_archive(tmp_path / "model.tar.gz", {"greeting.txt": "hello"})
    with running(tmp_path / "data", extra_args=("--image-map", str(image_map))) as srv:
        sm: Any = srv.sagemaker
        image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-server:1.0"
        create_model(sm, "custom", archive.as_uri(), Image=image)
        create_endpoint(sm, "custom", [variant("AllTraffic", "custom")])
        wait_in_service(sm, "custom")
        (deployed,) = sm.describe_endpoint(EndpointName="custom")["ProductionVariants"][0][
            "DeployedImages"
        ]
        assert deployed["SpecifiedImage"] == image
        assert deployed["ResolvedImage"] == "my-server-local"
        answer = srv.client("sagemaker-runtime").invoke_endpoint(
            EndpointName="custom", ContentType="text/plain", Body=b"world"
        )
        assert answer["Body"].read() == b"hello world"
        assert answer["ContentType"] == "text/plain"
        delete(sm, "custom")
