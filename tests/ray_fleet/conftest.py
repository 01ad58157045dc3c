"""The Ray fleet's tests: one small Ray cluster (head and two workers) for the package.

Each test module starts with ``pytest.importorskip("ray")``: they are skipped,
saying why, only where Ray is not installed (CI installs ``moorage[ray]``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.archives import toolbox_archive
from support.ray_cluster import RayCluster, ray_cluster


@pytest.fixture(scope="package")
def cluster() -> Iterator[RayCluster]:
    """Head and two workers, each with room for one 2-vCPU, 4 GiB instance (ml.c5.large)
    or two 1-vCPU, 2 GiB ones (ml.c8g.medium)."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'moorage[ray]')")
    with ray_cluster(2, cpus=2, memory_gib=4.5) as running:
        yield running


@pytest.fixture(autouse=True)
def clean_cluster(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts on the whole cluster, whatever the test before it left behind."""
    yield
    if "cluster" in request.fixturenames:
        request.getfixturevalue("cluster").clean()


@pytest.fixture(scope="package")
def toolbox_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return toolbox_archive(tmp_path_factory.mktemp("toolbox") / "model.tar.gz").as_uri()
