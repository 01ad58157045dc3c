"""A model's Python requirements, installed once per content and interpreter.

SageMaker's framework containers ``pip install -r code/requirements.txt`` from
the model directory before they load ``code/inference.py``. moorage does the
same for copies run by its built-in model server, but installs with
``--target`` into a directory the caller puts first on ``PYTHONPATH``, and
keeps that directory for the next copy: the key is the SHA-256 of the file's
bytes and of the interpreter's tag (implementation, version, platform), so
models with the same requirements share one install.

On disk: ``<cache_root>/<key>/`` for finished installs, and
``<cache_root>/.partial-<pid>-…`` while pip runs; the install is renamed into
place only when pip succeeded, so a failed, killed or concurrent install never
leaves a half environment. The fleet (:mod:`moorage.fleet.prepare`) calls
:func:`ensure_requirements` after :func:`moorage.artifacts.model_dir.materialize`,
or :func:`install_requirements` for the ``requirements.txt`` of code fetched
from ``SAGEMAKER_SUBMIT_DIRECTORY`` (:mod:`moorage.artifacts.code_dir`).

The key covers the requirements file's text only: a requirement naming a
relative local path (resolved from ``code/``) is not re-installed when that
path's contents change.

While pip runs, the install is watched every ``PIP_POLL_S``: it is stopped
once it grows past the unpacked-size cap or the disk's free space falls to
the reserve (:mod:`moorage.artifacts.space`), and a pip that failed for a
full disk is reported as such.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

from moorage.artifacts.errors import ArtifactError
from moorage.artifacts.fsutil import make_private, staged_dir
from moorage.artifacts.locks import lock_for
from moorage.artifacts.space import (
    DEFAULT_MAX_UNPACKED_BYTES,
    FreeSpaceReserve,
    cap_error,
    os_error_cause,
    tree_size,
)

REQUIREMENTS = Path("code") / "requirements.txt"
# Installing a large stack (torch, transformers) over a slow link takes
# minutes; past a quarter of an hour something is stuck.
DEFAULT_PIP_TIMEOUT_S = 900.0
# pip's own per-connection timeout, so one stalled index request fails fast.
PIP_SOCKET_TIMEOUT_S = 60
# How much of pip's output a failure message keeps (it becomes FailureReason).
MAX_PIP_OUTPUT_CHARS = 600
# How often a running install's size and the disk's free space are looked at.
PIP_POLL_S = 2.0
# What pip (and the tools it runs) print when a write fails for lack of room.
_DISK_FULL_MARKS = ("no space left on device", "[errno 28]", "disk quota exceeded")

_TAG_PROGRAM = (
    "import sys, sysconfig; print(sys.implementation.cache_tag, sysconfig.get_platform())"
)


def ensure_requirements(
    model_dir: Path,
    cache_root: Path,
    python_executable: str | Path,
    *,
    timeout_s: float = DEFAULT_PIP_TIMEOUT_S,
    max_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
    reserve: FreeSpaceReserve | None = None,
) -> Path | None:
    """Install ``model_dir/code/requirements.txt``; return the directory, or None if none.

    Raises :class:`ArtifactError` carrying the tail of pip's output on failure.
    ``max_bytes`` caps the installed size; ``reserve`` is the free space to
    leave on the disk.
    """
    return install_requirements(
        model_dir / REQUIREMENTS,
        cache_root,
        python_executable,
        shown=str(REQUIREMENTS),
        timeout_s=timeout_s,
        max_bytes=max_bytes,
        reserve=reserve,
    )


def install_requirements(
    requirements: Path,
    cache_root: Path,
    python_executable: str | Path,
    *,
    shown: str,
    timeout_s: float = DEFAULT_PIP_TIMEOUT_S,
    max_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
    reserve: FreeSpaceReserve | None = None,
) -> Path | None:
    """Install the ``requirements`` file if it exists (:func:`ensure_requirements` for any file).

    ``shown`` names the file in messages: ``code/requirements.txt`` for a
    model's, something saying where it came from for code fetched on its own
    (:mod:`moorage.artifacts.code_dir`).
    """
    if not requirements.is_file():
        return None
    try:
        content = requirements.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"{shown} could not be read: {exc.strerror or exc}") from None
    if not has_requirements(content):
        return None
    executable = str(python_executable)
    key = requirements_key(content, python_tag(executable))
    final = cache_root / key
    if final.is_dir():
        return final
    what = f"pip install -r {shown}"
    watch = _Watch(what, max_bytes, reserve or FreeSpaceReserve(), cache_root)
    try:
        cache_root.mkdir(parents=True, exist_ok=True)
        with lock_for(str(cache_root.resolve()), "requirements", key):
            if final.is_dir():
                return final
            watch.reserve.check(what, cache_root)
            with staged_dir(final) as temp:
                _pip_install(executable, requirements, temp, timeout_s, watch)
                try:
                    make_private(temp)
                except OSError as exc:
                    raise ArtifactError(
                        f"the packages of {shown} could not be made private to this "
                        f"user: {exc.strerror or exc}"
                    ) from None
    except OSError as exc:
        # Making or renaming the install's folder (the writes are pip's).
        raise ArtifactError(f"{what} failed: {os_error_cause(exc, cache_root)}") from None
    return final


class _Watch:
    """The limits a running install is held to."""

    def __init__(self, what: str, max_bytes: int, reserve: FreeSpaceReserve, root: Path) -> None:
        self.what = what
        self.max_bytes = max_bytes
        self.reserve = reserve
        self.root = root

    def check(self, target: Path) -> None:
        """Raise if the install is over the cap or the disk is down to the reserve."""
        if tree_size(target) > self.max_bytes:
            raise cap_error(self.what, self.max_bytes, "installed")
        self.reserve.check(self.what, self.root)


def requirements_key(content: bytes, tag: str) -> str:
    """The cache key of one requirements file for one interpreter tag."""
    digest = hashlib.sha256()
    digest.update(content)
    digest.update(b"\0")
    digest.update(tag.encode())
    return digest.hexdigest()


def has_requirements(content: bytes) -> bool:
    """Whether the file has any line that is not blank or a comment."""
    for line in content.decode("utf-8", "replace").splitlines():
        if line.split("#", 1)[0].strip():
            return True
    return False


@functools.cache
def python_tag(executable: str) -> str:
    """``cpython-311 linux-x86_64``: what decides whether an install is reusable."""
    try:
        done = subprocess.run(
            [executable, "-c", _TAG_PROGRAM],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ArtifactError(
            f"the Python interpreter {executable} could not be run: {exc}"
        ) from None
    if done.returncode != 0:
        raise ArtifactError(
            f"the Python interpreter {executable} failed: {summarize(done.stderr or done.stdout)}"
        )
    return done.stdout.strip()


def _pip_install(
    executable: str, requirements: Path, target: Path, timeout_s: float, watch: _Watch
) -> None:
    command = [
        executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-warn-script-location",
        "--timeout",
        str(PIP_SOCKET_TIMEOUT_S),
        "--target",
        str(target),
        "-r",
        requirements.name,
    ]
    what = watch.what
    try:
        # Run from the file's folder so that relative paths in it resolve as they
        # would for `pip install -r requirements.txt` there; in its own
        # session so that a timeout also stops the build processes pip starts.
        proc = subprocess.Popen(
            command,
            cwd=requirements.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        raise ArtifactError(f"{what} could not be started: {exc.strerror or exc}") from None
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ArtifactError(f"{what} did not finish within {timeout_s:g} s")
            try:
                output, _ = proc.communicate(timeout=min(PIP_POLL_S, left))
                break
            except subprocess.TimeoutExpired:
                # communicate() keeps what it has read; calling it again goes on.
                watch.check(target)
    except BaseException:
        _kill_group(proc)
        raise
    if proc.returncode != 0:
        if any(mark in output.lower() for mark in _DISK_FULL_MARKS):
            raise ArtifactError(
                f"{what} failed: the disk holding {watch.root} is full "
                f"(pip: {summarize(output, 300)})"
            )
        raise ArtifactError(f"{what} failed: {summarize(output)}")
    watch.check(target)  # an install quicker than one poll is held to the same limits


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def summarize(output: str, limit: int = MAX_PIP_OUTPUT_CHARS) -> str:
    """The useful end of pip's output: its ERROR lines, or else its last lines."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error:")]
    text = " ".join(errors[-3:] if errors else lines[-5:]) or "pip printed nothing"
    if len(text) > limit:
        text = "..." + text[-(limit - 3) :]
    return text
