"""The CBOR head walk that refuses oversized request bodies before decoding."""

from __future__ import annotations

import cbor2
import pytest

from moorage.api import cbor_codec
from moorage.api.cbor_codec import count_items
from moorage.api.service_models import operation_model
from moorage.errors import SerializationError


def test_counts_every_item_keys_included() -> None:
    body = cbor2.dumps({"a": [1, 2.5, "x", b"y", None, True], "b": {"c": cbor2.CBORTag(1, 5)}})
    # map, "a", list, 6 items, "b", map, "c", tag, 5
    assert count_items(body, limit=100) == 14


def test_too_many_items_are_refused() -> None:
    n = 2_000
    body = b"\x99" + n.to_bytes(2, "big") + b"\xa0" * n
    with pytest.raises(SerializationError, match="more than 1000 CBOR data items"):
        count_items(body, limit=1_000)


@pytest.mark.parametrize(
    "body",
    [
        b"\x9b\xff\xff\xff\xff\xff\xff\xff\xff" + b"\x00" * 20,  # claims 2**64 items
        b"\x5a\xff\xff\xff\xff" + b"\x00" * 20,  # claims a 4 GiB byte string
        b"\xff" + b"\x00" * 20,  # a break with nothing open
        b"\x1c" + b"\x00" * 20,  # reserved additional information
        b"\x81" * 100,  # ends inside its arrays
    ],
)
def test_malformed_heads_are_refused_at_once(body: bytes) -> None:
    with pytest.raises(SerializationError):
        count_items(body, limit=10)


def test_indefinite_lengths_are_walked() -> None:
    body = b"\xbf\x61a\x9f\x01\x02\xff\x7f\x61x\x61y\xff\x01\xff"
    assert cbor2.loads(body) == {"a": [1, 2], "xy": 1}
    assert count_items(body, limit=100) == 9


def test_decode_request_refuses_a_body_of_empty_maps() -> None:
    n = cbor_codec.MAX_ITEMS + 10
    body = b"\xa1\x69Namespace\x9a" + n.to_bytes(4, "big") + b"\xa0" * n
    with pytest.raises(SerializationError, match="CBOR data items"):
        cbor_codec.decode_request(operation_model("cloudwatch", "ListMetrics"), body)
