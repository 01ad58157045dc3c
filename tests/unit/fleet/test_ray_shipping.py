"""Local folders shipped to Ray nodes: packed once, unpacked once per node cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from moorage.fleet.ray.shipping import pack, unpack


def test_a_folder_is_packed_by_content_and_unpacked_once(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "code").mkdir(parents=True)
    (folder / "model.bin").write_bytes(b"\x00weights")
    (folder / "code" / "inference.py").write_text("def model_fn(d):\n    return 1\n")
    key, data = pack(folder)
    assert pack(folder)[0] == key
    cache = tmp_path / "node-cache"
    fetched: list[int] = []

    def fetch() -> bytes:
        fetched.append(1)
        return data

    target = unpack(cache, key, fetch)
    assert (target / "model.bin").read_bytes() == b"\x00weights"
    assert (target / "code" / "inference.py").read_text().startswith("def model_fn")
    # Already on the node: the object is not fetched again.
    assert unpack(cache, key, fetch) == target
    assert fetched == [1]
    (folder / "model.bin").write_bytes(b"\x00other")
    assert pack(folder)[0] != key


def test_a_tar_that_climbs_out_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"owned"))
    cache = tmp_path / "node-cache"
    with pytest.raises(tarfile.TarError):
        unpack(cache, "bad", buffer.getvalue)
    assert not (cache / "shipped" / "bad").exists()
    assert not (cache / "escaped.txt").exists()
    assert [p.name for p in (cache / "shipped").iterdir()] == []
