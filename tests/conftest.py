"""Fixtures shared by every test suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.server import MoorageServer, running


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
