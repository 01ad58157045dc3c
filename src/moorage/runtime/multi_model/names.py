"""From a request's ``TargetModel`` to the model's archive and its name in the container.

SageMaker "constructs the absolute path of the model by combining the
prefix that is provided as part of the CreateModel API call with the
relative path of the model": :func:`model_url` joins the container's
``ModelDataUrl`` (an ``s3://`` prefix, a ``file://`` folder or an absolute
path) and ``TargetModel`` with one ``/``. A ``TargetModel`` that would leave
the prefix (``..`` components, a leading ``/``, a backslash, a control
character) is refused before anything is fetched.

In the container a model is known by an opaque name (SageMaker's contract
says the name "is not necessarily the value of the ``TargetModel``"):
:func:`container_name` is a digest of the ``TargetModel``, safe in a URL
path, and the original travels in ``X-Amzn-SageMaker-Target-Model``.
"""

from __future__ import annotations

import hashlib
import posixpath
import urllib.parse

from moorage.errors import ValidationError


def check_target(target: str) -> None:
    """Raise a ValidationError if ``target`` cannot name a model under a prefix."""
    parts = target.split("/")
    if (
        target.startswith("/")
        or "\\" in target
        or any(part in ("..", ".") for part in parts)
        or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target)
        or target.endswith("/")
    ):
        raise ValidationError(
            f"TargetModel {target!r} is not a relative path to a model archive under the "
            "model's ModelDataUrl prefix (no leading '/', no '.' or '..' components, no "
            "trailing '/')."
        )


def model_url(prefix: str, target: str) -> str:
    """The archive ``target`` names under ``prefix`` (a URL of the same kind)."""
    if prefix.startswith("/"):
        return posixpath.join(prefix, target)
    if prefix.lower().startswith("file:"):
        # Quoted like the folder, so that "a b.tar.gz" stays one path.
        return f"{prefix.rstrip('/')}/{urllib.parse.quote(target)}"
    return f"{prefix.rstrip('/')}/{target}"


def container_name(target: str) -> str:
    """The model's name in the container: a digest of ``target``."""
    return "m-" + hashlib.sha256(target.encode("utf-8", "surrogatepass")).hexdigest()[:32]
