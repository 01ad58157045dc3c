"""A tiny wheel built on the fly, so a model's requirements install without a network."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile

WHEEL_NAME = "tinydep-0.1-py3-none-any.whl"


def tiny_wheel(value: int = 42) -> bytes:
    """``tinydep`` 0.1, whose ``tinydep.VALUE`` is ``value``: a valid, installable wheel."""
    files = {
        "tinydep/__init__.py": f"VALUE = {value}\n".encode(),
        "tinydep-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinydep\nVersion: 0.1\n",
        "tinydep-0.1.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: moorage-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files.items()]
    record.append("tinydep-0.1.dist-info/RECORD,,")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("tinydep-0.1.dist-info/RECORD", "\n".join(record) + "\n")
    return buffer.getvalue()


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def requirements_files() -> dict[str, str | bytes]:
    """``code/requirements.txt`` naming the wheel beside it, and the wheel."""
    return {
        "code/requirements.txt": f"./{WHEEL_NAME}\n",
        f"code/{WHEEL_NAME}": tiny_wheel(),
    }
