"""Requirements: the cache key, the no-requirements cases and pip's failure summary."""

from __future__ import annotations

import sys
from pathlib import Path

from moorage.artifacts import ArtifactError, ensure_requirements, requirements_key
from moorage.artifacts.errors import MAX_MESSAGE_CHARS
from moorage.artifacts.requirements import has_requirements, python_tag, summarize


def test_key_depends_on_content_and_interpreter() -> None:
    base = requirements_key(b"numpy==1.26\n", "cpython-311 linux-x86_64")
    assert len(base) == 64
    assert base == requirements_key(b"numpy==1.26\n", "cpython-311 linux-x86_64")
    assert base != requirements_key(b"numpy==1.27\n", "cpython-311 linux-x86_64")
    assert base != requirements_key(b"numpy==1.26\n", "cpython-312 linux-x86_64")
    # The separator keeps content and tag from running into each other.
    assert requirements_key(b"a", "b c") != requirements_key(b"ab", " c")


def test_python_tag_names_version_and_platform() -> None:
    tag = python_tag(sys.executable)
    assert tag.startswith(f"{sys.implementation.cache_tag} ")


def test_no_requirements_means_none(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "code").mkdir(parents=True)
    cache = tmp_path / "site"
    assert ensure_requirements(model, cache, sys.executable) is None
    (model / "code" / "requirements.txt").write_text("# nothing yet\n\n   \n")
    assert ensure_requirements(model, cache, sys.executable) is None
    assert not cache.exists()


def test_has_requirements() -> None:
    assert has_requirements(b"pkg  # pinned later\n")
    assert not has_requirements(b"# only a comment\n")


def test_summary_keeps_pip_error_lines() -> None:
    output = "\n".join(
        [
            "Processing ./x",
            "Collecting nonexistent-pkg-xyz",
            "ERROR: Could not find a version that satisfies the requirement nonexistent-pkg-xyz",
            "ERROR: No matching distribution found for nonexistent-pkg-xyz",
        ]
    )
    summary = summarize(output)
    assert summary.startswith("ERROR: Could not find a version")
    assert summary.endswith("ERROR: No matching distribution found for nonexistent-pkg-xyz")
    assert "Processing" not in summary


def test_summary_without_error_lines_keeps_the_tail_and_is_bounded() -> None:
    output = "\n".join(f"line {i} " + "x" * 300 for i in range(100))
    summary = summarize(output, limit=200)
    assert len(summary) == 200
    assert summary.endswith("x")
    assert "line 99" in summarize("\n".join(f"line {i}" for i in range(100)))


def test_error_messages_are_one_bounded_line() -> None:
    error = ArtifactError("model artifact s3://b/k failed:\n" + "detail " * 1000)
    assert "\n" not in error.message
    assert len(error.message) <= MAX_MESSAGE_CHARS
    assert error.message.startswith("model artifact s3://b/k failed:")
