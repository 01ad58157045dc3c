"""File roots: which local paths a request may name, with symlinks and '..' resolved."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from moorage.file_roots import FileRoots, OutsideRoots, local_path, program_problem


@pytest.fixture
def roots(tmp_path: Path) -> FileRoots:
    (tmp_path / "models").mkdir()
    (tmp_path / "capture").mkdir()
    (tmp_path / "secret").mkdir()
    (tmp_path / "models" / "data").mkdir()
    return FileRoots.of(
        [tmp_path / "models", tmp_path / "capture"], exclude=[tmp_path / "models" / "data"]
    )


def test_no_roots_confines_nothing() -> None:
    open_roots = FileRoots()
    open_roots.check_location("ModelDataUrl", "file:///etc/passwd")
    open_roots.check_environment("Environment", {"LD_PRELOAD": "/tmp/x.so", "PYTHONPATH": "rel"})


def test_local_paths_and_urls(tmp_path: Path, roots: FileRoots) -> None:
    inside = tmp_path / "models" / "model.tar.gz"
    roots.check_location("ModelDataUrl", str(inside))
    roots.check_location("ModelDataUrl", inside.as_uri())
    roots.check_location("ModelDataUrl", f"file://localhost{inside}")
    roots.check_location("DestinationS3Uri", str(tmp_path / "capture"))
    # Other schemes are not local paths.
    roots.check_location("ModelDataUrl", "s3://bucket/key/../../etc")
    roots.check_location("ModelDataUrl", "https://bucket.s3.us-east-1.amazonaws.com/m.tar.gz")
    with pytest.raises(OutsideRoots) as raised:
        roots.check_location("PrimaryContainer.ModelDataUrl", "file:///etc/passwd")
    message = str(raised.value)
    assert "PrimaryContainer.ModelDataUrl" in message and "/etc/passwd" in message
    assert str(tmp_path / "models") in message and str(tmp_path / "capture") in message


def test_dot_dot_and_percent_encoding_are_resolved(tmp_path: Path, roots: FileRoots) -> None:
    escape = f"{tmp_path}/models/../secret/m.tar.gz"
    with pytest.raises(OutsideRoots, match="secret"):
        roots.check_location("ModelDataUrl", escape)
    with pytest.raises(OutsideRoots):
        roots.check_location("ModelDataUrl", f"file://{tmp_path}/models/%2E%2E/secret/m.tar.gz")
    # A sibling whose name starts with a root's name is not inside it.
    (tmp_path / "models-evil").mkdir()
    with pytest.raises(OutsideRoots):
        roots.check_location("ModelDataUrl", str(tmp_path / "models-evil" / "m.tar.gz"))


def test_symlinks_are_resolved(tmp_path: Path, roots: FileRoots) -> None:
    link = tmp_path / "models" / "link"
    link.symlink_to(tmp_path / "secret")
    with pytest.raises(OutsideRoots, match="resolves to"):
        roots.check_location("ModelDataUrl", str(link / "m.tar.gz"))
    # A root reached through a link is still the root.
    alias = tmp_path / "alias"
    alias.symlink_to(tmp_path / "models")
    roots.check_location("ModelDataUrl", str(alias / "m.tar.gz"))


def test_the_data_dir_stays_out_even_inside_a_root(tmp_path: Path, roots: FileRoots) -> None:
    with pytest.raises(OutsideRoots, match="data dir"):
        roots.check_location("ModelDataUrl", str(tmp_path / "models" / "data" / "credentials"))


def test_relative_paths_are_refused_when_confined(roots: FileRoots) -> None:
    with pytest.raises(OutsideRoots, match="not an absolute path"):
        roots.check_location("DestinationS3Uri", "capture/here")


def test_loader_variables(tmp_path: Path, roots: FileRoots) -> None:
    inside = str(tmp_path / "models")
    roots.check_environment(
        "Environment",
        {
            "PYTHONPATH": f"{inside}/lib{os.pathsep}{inside}/more",
            "LD_PRELOAD": "libjemalloc.so.2",  # a library name: found in the search path
            "LD_LIBRARY_PATH": f"{inside}/native",
            "PYTHONHOME": "",  # names no path
            "HOME": "/root",  # not a loader variable
            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",  # the container's model dir
        },
    )
    refused = {
        "PYTHONPATH": f"{inside}{os.pathsep}/usr/evil",
        "PYTHONSTARTUP": "/tmp/startup.py",
        "LD_PRELOAD": f"{inside}/ok.so /tmp/evil.so",
        "LD_AUDIT": "/tmp/audit.so",
        "LD_LIBRARY_PATH": f"{inside}{os.pathsep}",  # an empty entry is the current directory
        "GCONV_PATH": "relative/dir",
        "SAGEMAKER_SUBMIT_DIRECTORY": "file:///srv/code",
    }
    for name, value in refused.items():
        with pytest.raises(OutsideRoots) as raised:
            roots.check_environment("PrimaryContainer.Environment", {name: value})
        assert f"PrimaryContainer.Environment.{name}" in str(raised.value)
    with pytest.raises(OutsideRoots, match=r"\$ token"):
        roots.check_environment("Environment", {"LD_PRELOAD": "$ORIGIN/x.so"})
    with pytest.raises(OutsideRoots):
        roots.check_environment(
            "Environment", {"SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/../../etc"}
        )
    roots.check_environment("Environment", {"SAGEMAKER_SUBMIT_DIRECTORY": "s3://b/code.tar.gz"})


def test_local_path() -> None:
    assert local_path("/a/b") == "/a/b"
    assert local_path("file:///a/b%20c") == "/a/b c"
    assert local_path("FILE:///a") == "/a"
    assert local_path("s3://b/k") is None
    assert local_path("https://b.s3.amazonaws.com/k") is None
    assert local_path("rel/path") == "rel/path"


def test_program_must_stay_in_code() -> None:
    assert program_problem("inference.py") is None
    assert program_problem("serve") is None
    assert program_problem("handlers/main.py") is None
    assert program_problem("") is None
    assert "absolute" in (program_problem("/etc/evil.py") or "")
    assert ".." in (program_problem("../../evil.py") or "")
    assert ".." in (program_problem("a/../b.py") or "")
    assert "NUL" in (program_problem("a\0.py") or "")


def test_an_unparsable_url_names_no_local_path() -> None:
    from moorage.file_roots import local_path

    assert local_path("https://[bucket/m.tar.gz") is None
