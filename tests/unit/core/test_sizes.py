"""Sizes as the command line reads them and messages print them."""

from __future__ import annotations

import pytest

from moorage.sizes import SizeError, format_size, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1048576", 1048576),
        ("512M", 512 * 1024**2),
        ("512m", 512 * 1024**2),
        ("20G", 20 * 1024**3),
        ("20GiB", 20 * 1024**3),
        ("20 GB", 20 * 1024**3),
        ("1.5G", 3 * 1024**3 // 2),
        ("64K", 64 * 1024),
        ("2T", 2 * 1024**4),
        ("100B", 100),
    ],
)
def test_sizes_are_read_in_powers_of_1024(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "-5M", "5X", "five", "1e3", "5 M B", "9" * 30 + "P"])
def test_unreadable_sizes_say_what_is_expected(text: str) -> None:
    with pytest.raises(SizeError, match=r"is not a size|too large"):
        parse_size(text)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (812, "812 bytes"),
        (50 * 1024**2, "50 MiB"),
        (3 * 1024**3 // 2, "1.5 GiB"),
        (1024**3 - 1, "1 GiB"),
        (20 * 1024**3, "20 GiB"),
    ],
)
def test_sizes_print_for_people(size: int, text: str) -> None:
    assert format_size(size) == text
