"""Fixtures shared by every test suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.server import MoorageServer, running

# Test files that share one expensive resource and must run on one worker
# (make test runs two, pytest-xdist --dist loadgroup): the Ray fleet's tests
# share one local Ray cluster, and two clusters on one machine starve each other.
_SHARED = ("tests/ray_fleet/",)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test file is one group of tests for the workers, or its shared set is."""
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        group = next((shared for shared in _SHARED if path.startswith(shared)), path)
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoorageServer]:
    """One server for the whole run; tests use unique resource names."""
    with running(tmp_path_factory.mktemp("moorage-data")) as srv:
        yield srv


@pytest.fixture
def sm(server: MoorageServer) -> Any:
    return server.sagemaker


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[MoorageServer]:
    """A server of the test's own, on its own data dir."""
    with running(tmp_path / "data") as srv:
        yield srv
