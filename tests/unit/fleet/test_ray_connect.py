"""Joining a Ray cluster: a bad or unreachable address is refused at once, saying why."""

from __future__ import annotations

import pytest

from moorage.fleet.ray.cluster import RayUnavailable, connect
from support.ports import free_port


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ("nonsense", "expected HOST:PORT"),
        ("ray://head:10001", "Ray Client ray:// addresses are not supported"),
        ("127.0.0.1:{free}", "cannot join the Ray cluster at 127.0.0.1:"),
    ],
)
def test_unusable_addresses_are_refused_with_a_reason(address: str, said: str) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'moorage[ray]')")
    with pytest.raises(RayUnavailable) as refused:
        connect(address.format(free=free_port()), "moorage-test")
    assert said in str(refused.value)
