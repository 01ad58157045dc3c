"""The command line and environment of ``python -m moorage.container``.

:func:`parse` reads both once, at start-up, into :class:`Options`; nothing
else in the package reads the environment except the script handlers the user
writes. A bad value is a :class:`StartupError` with exit code ``USAGE`` so
that :mod:`moorage.container.server` reports it like any other failure
(failure file, stderr, status 2), instead of argparse exiting on its own.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from moorage.container.errors import ExitCode, StartupError
from moorage.container.handlers import DEFAULT_PROGRAM

DEFAULT_PORT = 8080
DEFAULT_HOST = "127.0.0.1"
DEFAULT_MODEL_DIR = "/opt/ml/model"
DEFAULT_ACCEPT = "application/json"
# Threads, not processes: enough to overlap I/O-bound or GIL-releasing
# (numpy, torch) predictions without surprising scripts that hold big models.
DEFAULT_WORKERS = 4
# Below the local fleet's 30 s SIGTERM-to-SIGKILL grace, so a drain that runs
# long still ends in a clean exit.
DEFAULT_SHUTDOWN_GRACE_S = 25.0
# As in the SageMaker framework containers: how long one request may keep a worker.
DEFAULT_MODEL_SERVER_TIMEOUT_S = 60
_MAX_TIMEOUT_S = 24 * 3600
# As in the SageMaker toolkits (and what the SageMaker SDK sets by default).
DEFAULT_LOG_LEVEL = logging.INFO
_LEVEL_NAMES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

DESCRIPTION = """\
moorage's model server: the SageMaker inference container contract
(GET /ping, POST /invocations) around an inference script that follows the
SageMaker inference toolkit's handlers (model_fn, input_fn, predict_fn,
output_fn or transform_fn), plus moorage's adapter endpoints (/adapters).
"""

EPILOG = f"""\
environment:
  SAGEMAKER_PROGRAM                     script file in the code directory
                                        (default {DEFAULT_PROGRAM})
  SAGEMAKER_BIND_TO_PORT                port when --port is not given (default {DEFAULT_PORT})
  SAGEMAKER_MODEL_SERVER_WORKERS        handler threads (default {DEFAULT_WORKERS})
  SAGEMAKER_MODEL_SERVER_TIMEOUT        seconds a request may hold a worker: every worker held
                                        longer, with requests waiting, makes /ping unhealthy
                                        (default {DEFAULT_MODEL_SERVER_TIMEOUT_S})
  SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT  type for a missing or */* Accept (default {DEFAULT_ACCEPT})
  SAGEMAKER_CONTAINER_LOG_LEVEL         level of Python logging in this process: a number (20)
                                        or a name (INFO) (default INFO)
  SM_MODEL_DIR                          model directory when --model-dir is not given
                                        (default {DEFAULT_MODEL_DIR})
  MOORAGE_CODE_DIR                      code directory when --code-dir is not given
                                        (default MODEL_DIR/code)
  MOORAGE_FAILURE_FILE                  on a failed start, write the reason to this file
  MOORAGE_PARENT_PID                    exit when this process dies (orphan protection)
  MOORAGE_SHUTDOWN_GRACE_SECONDS        how long SIGTERM waits for in-flight requests
                                        (default {DEFAULT_SHUTDOWN_GRACE_S:g})
  MOORAGE_UNIX_SOCKET                   also serve on this Unix socket path (the router's
                                        faster way in; the port is served all the same)
  SAGEMAKER_MULTI_MODEL                 true: start with no model and serve the multi-model
                                        contract (/models) instead of loading MODEL_DIR

exit status:
  0  stopped by SIGTERM or SIGINT          4  model_fn raised
  1  internal error of the server          5  cannot listen on the host/port or socket
  2  bad command line or environment       6  the MOORAGE_PARENT_PID process died
  3  the inference script is missing, does not import, or breaks the handler contract

Once listening, one line goes to stdout:
  moorage model server listening on http://HOST:PORT
"""


@dataclass(frozen=True)
class Options:
    model_dir: Path
    host: str
    port: int
    program: str
    workers: int
    default_accept: str
    failure_file: Path | None
    parent_pid: int | None
    shutdown_grace_s: float
    unix_socket: Path | None = None
    timeout_s: float = DEFAULT_MODEL_SERVER_TIMEOUT_S
    # Where the script lives; None means MODEL_DIR/code.
    code_dir: Path | None = None
    log_level: int = DEFAULT_LOG_LEVEL
    # SAGEMAKER_MULTI_MODEL=true: no model at start, models loaded through /models.
    multi_model: bool = False


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise StartupError(ExitCode.USAGE, f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m moorage.container",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model-dir",
        metavar="DIR",
        help="the model directory: model files, and code/inference.py "
        f"(default: $SM_MODEL_DIR, else {DEFAULT_MODEL_DIR})",
    )
    parser.add_argument(
        "--code-dir",
        metavar="DIR",
        help="the directory holding the inference script and its siblings "
        "(default: $MOORAGE_CODE_DIR, else MODEL_DIR/code)",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port",
        metavar="N",
        help=f"port to listen on (default: $SAGEMAKER_BIND_TO_PORT, else {DEFAULT_PORT}; "
        "0 picks a free one)",
    )
    return parser


def parse(argv: Sequence[str] | None, environ: Mapping[str, str]) -> Options:
    """Options from the command line, falling back to the environment."""
    args = _parser().parse_args(argv)
    model_dir = args.model_dir or environ.get("SM_MODEL_DIR") or DEFAULT_MODEL_DIR
    port_text = args.port if args.port is not None else environ.get("SAGEMAKER_BIND_TO_PORT")
    port = _int("--port / SAGEMAKER_BIND_TO_PORT", port_text, DEFAULT_PORT, 0, 65535)
    workers = _int(
        "SAGEMAKER_MODEL_SERVER_WORKERS",
        environ.get("SAGEMAKER_MODEL_SERVER_WORKERS"),
        DEFAULT_WORKERS,
        1,
        1024,
    )
    timeout = _int(
        "SAGEMAKER_MODEL_SERVER_TIMEOUT",
        environ.get("SAGEMAKER_MODEL_SERVER_TIMEOUT"),
        DEFAULT_MODEL_SERVER_TIMEOUT_S,
        1,
        _MAX_TIMEOUT_S,
    )
    code_dir = args.code_dir or environ.get("MOORAGE_CODE_DIR")
    parent = environ.get("MOORAGE_PARENT_PID")
    parent_pid = _int("MOORAGE_PARENT_PID", parent, 0, 1, 2**31) if parent else None
    failure = environ.get("MOORAGE_FAILURE_FILE")
    grace_text = environ.get("MOORAGE_SHUTDOWN_GRACE_SECONDS")
    try:
        grace = float(grace_text) if grace_text else DEFAULT_SHUTDOWN_GRACE_S
    except ValueError:
        grace = -1.0
    if not grace >= 0:
        raise StartupError(
            ExitCode.USAGE,
            f"MOORAGE_SHUTDOWN_GRACE_SECONDS={grace_text!r} is not a number of seconds.",
        )
    return Options(
        model_dir=Path(model_dir).absolute(),
        host=args.host,
        port=port,
        program=environ.get("SAGEMAKER_PROGRAM") or DEFAULT_PROGRAM,
        workers=workers,
        default_accept=environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or DEFAULT_ACCEPT,
        failure_file=Path(failure) if failure else None,
        parent_pid=parent_pid,
        shutdown_grace_s=grace,
        unix_socket=Path(unix) if (unix := environ.get("MOORAGE_UNIX_SOCKET")) else None,
        timeout_s=float(timeout),
        code_dir=Path(code_dir).absolute() if code_dir else None,
        log_level=log_level(environ.get("SAGEMAKER_CONTAINER_LOG_LEVEL")),
        multi_model=multi_model(environ.get("SAGEMAKER_MULTI_MODEL")),
    )


def multi_model(text: str | None) -> bool:
    """``SAGEMAKER_MULTI_MODEL``: ``true`` or ``false`` (any case); unset is false."""
    value = (text or "").strip().lower()
    if value in ("", "false"):
        return False
    if value == "true":
        return True
    raise StartupError(ExitCode.USAGE, f"SAGEMAKER_MULTI_MODEL={text!r} is not true or false.")


def log_level(text: str | None) -> int:
    """``SAGEMAKER_CONTAINER_LOG_LEVEL``: a logging level number or name.

    The SageMaker SDK sends the number (``str(logging.INFO)``, ``"20"``); a
    name is accepted too, in any case.
    """
    if text is None or not text.strip():
        return DEFAULT_LOG_LEVEL
    value = text.strip()
    if value.upper() in _LEVEL_NAMES:
        level: int = logging.getLevelName(value.upper())
        return level
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 <= number <= logging.CRITICAL:
        raise StartupError(
            ExitCode.USAGE,
            f"SAGEMAKER_CONTAINER_LOG_LEVEL={text!r} is not a logging level: use a number "
            f"from 0 to {logging.CRITICAL} or one of {', '.join(_LEVEL_NAMES)}.",
        )
    return number


def failure_file(environ: Mapping[str, str]) -> Path | None:
    """Where to report a failure even when the rest of the options did not parse."""
    value = environ.get("MOORAGE_FAILURE_FILE")
    return Path(value) if value else None


def _int(name: str, text: str | None, default: int, low: int, high: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise StartupError(
            ExitCode.USAGE, f"{name}={text!r} is not a whole number from {low} to {high}."
        )
    return value
