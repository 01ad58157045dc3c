"""Installing code/requirements.txt with a real pip, offline.

The requirement is a tiny wheel built by hand in tmp_path (a wheel is a zip
with metadata), named by absolute path, and pip runs with PIP_NO_INDEX so
that nothing is fetched from the network and no build backend is needed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from moorage.artifacts import ArtifactError, ensure_requirements
from moorage.artifacts.space import DiskSpace, FreeSpaceReserve


def build_wheel(folder: Path, name: str = "tinypkg_xyz", version: str = "0.1") -> Path:
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        ),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def model_with(tmp_path: Path, requirements: str) -> Path:
    model = tmp_path / "model"
    (model / "code").mkdir(parents=True, exist_ok=True)
    (model / "code" / "requirements.txt").write_text(requirements)
    return model


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")


def test_install_then_reuse(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    model = model_with(tmp_path, f"# local wheel\n{wheel}\n")
    cache = tmp_path / "site"
    site = ensure_requirements(model, cache, sys.executable)
    assert site is not None and site.parent == cache
    check = subprocess.run(
        [sys.executable, "-c", "import tinypkg_xyz; print(tinypkg_xyz.VALUE)"],
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.strip() == "42"
    stamp = site.stat().st_mtime_ns
    # A second model with the same file reuses the install without running pip.
    other = model_with(tmp_path / "other", f"# local wheel\n{wheel}\n")
    assert ensure_requirements(other, cache, sys.executable) == site
    assert site.stat().st_mtime_ns == stamp
    assert [p.name for p in cache.iterdir()] == [site.name]


def test_unknown_package_gives_pips_error(tmp_path: Path) -> None:
    model = model_with(tmp_path, "nonexistent-pkg-xyz\n")
    cache = tmp_path / "site"
    with pytest.raises(ArtifactError) as info:
        ensure_requirements(model, cache, sys.executable)
    message = info.value.message
    assert message.startswith("pip install -r code/requirements.txt failed: ERROR:")
    assert message.endswith("ERROR: No matching distribution found for nonexistent-pkg-xyz")
    assert len(message) < 1000
    assert list(cache.iterdir()) == []  # no half environment


def test_missing_local_path_and_bad_line(tmp_path: Path) -> None:
    cache = tmp_path / "site"
    missing = model_with(tmp_path, f"{tmp_path}/no-such-dir/pkg-1.0-py3-none-any.whl\n")
    with pytest.raises(ArtifactError, match=r"failed: ERROR: .*no-such-dir"):
        ensure_requirements(missing, cache, sys.executable)
    invalid = model_with(tmp_path / "b", "this is not a requirement !!\n")
    with pytest.raises(ArtifactError, match=r"pip install -r code/requirements.txt failed: ERROR"):
        ensure_requirements(invalid, cache, sys.executable)
    assert list(cache.iterdir()) == []


def test_timeout_is_reported(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    model = model_with(tmp_path, f"{wheel}\n")
    with pytest.raises(ArtifactError, match=r"did not finish within 0.01 s"):
        ensure_requirements(model, tmp_path / "site", sys.executable, timeout_s=0.01)
    assert list((tmp_path / "site").iterdir()) == []


def test_an_install_over_the_unpacked_cap_is_refused(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    model = model_with(tmp_path, f"{wheel}\n")
    cache = tmp_path / "site"
    with pytest.raises(ArtifactError) as info:
        ensure_requirements(model, cache, sys.executable, max_bytes=100)
    assert info.value.message == (
        "pip install -r code/requirements.txt was rejected: it installed more than 100 bytes, "
        "the limit on a model's unpacked data (moorage serve --max-unpacked-size)"
    )
    assert list(cache.iterdir()) == []
    # Within the cap, the same install works.
    assert ensure_requirements(model, cache, sys.executable, max_bytes=1024**2) is not None


def test_an_install_leaves_the_free_space_reserve(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    model = model_with(tmp_path, f"{wheel}\n")
    cache = tmp_path / "site"

    def full(path: Path) -> DiskSpace:
        return DiskSpace(free=10 * 1024**2, total=100 * 1024**3)

    with pytest.raises(ArtifactError) as info:
        ensure_requirements(model, cache, sys.executable, reserve=FreeSpaceReserve(probe=full))
    assert info.value.message.startswith(
        "pip install -r code/requirements.txt could not be stored: not enough disk space on the "
        f"disk holding {cache}: only 10 MiB (10485760 bytes) are free and moorage keeps at "
        "least 1 GiB free"
    )
    assert list(cache.iterdir()) == []
