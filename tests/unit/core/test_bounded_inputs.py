"""The JSON limits and the validator's bounds, in-process."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

from moorage import json_limits
from moorage.api.service_models import operation_model
from moorage.api.validate import MAX_LISTED_ERRORS, format_errors, printable, show, validate
from moorage.errors import ValidationError
from moorage.json_limits import JsonLimitError


def message(service: str, op: str, params: Any) -> str:
    with pytest.raises(ValidationError) as err:
        validate(operation_model(service, op).input_shape, params)
    return err.value.message


@pytest.mark.parametrize(
    "data", [b"[" * 65 + b"]" * 65, "[" * 65 + "]" * 65, b'{"a":' * 99 + b"1" + b"}" * 99]
)
def test_more_than_64_levels_are_refused(data: bytes | str) -> None:
    with pytest.raises(JsonLimitError, match="nests more than 64 levels"):
        json_limits.loads(data)


def test_a_thousand_levels_do_not_recurse_out() -> None:
    with pytest.raises(JsonLimitError):
        json_limits.loads(b"[" * 100_000 + b"]" * 100_000)


def test_64_levels_and_500000_values_are_accepted() -> None:
    assert json_limits.loads("[" * 64 + "]" * 64) is not None
    value = json_limits.loads(b"[" + b",".join([b"1"] * 499_999) + b"]")
    assert len(value) == 499_999


def test_more_values_are_refused_before_parsing() -> None:
    with pytest.raises(JsonLimitError, match="more than 500000 values"):
        json_limits.loads(b"[" + b",".join([b"{}"] * 500_001) + b"]")


def test_commas_inside_strings_are_not_values() -> None:
    text = json_limits.loads(b'["' + b",[{" * 400_000 + b'"]')
    assert len(text[0]) == 1_200_000


def test_a_limit_error_is_a_value_error() -> None:
    assert issubclass(JsonLimitError, ValueError)


def test_errors_are_counted_but_ten_are_listed() -> None:
    params = {
        "ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:model/x",
        "Tags": [{}] * 1_000,
    }
    text = message("sagemaker", "AddTags", params)
    assert text.startswith("2001 validation errors detected: ")
    assert text.endswith("; and 1991 more validation errors not listed")
    assert text.count("failed to satisfy constraint") == MAX_LISTED_ERRORS
    assert len(text) < 4_000


def test_format_errors_lists_at_most_ten() -> None:
    assert format_errors(["a"]) == "1 validation error detected: a"
    text = format_errors([f"e{n}" for n in range(12)])
    assert text == (
        "12 validation errors detected: e0; e1; e2; e3; e4; e5; e6; e7; e8; e9; "
        "and 2 more validation errors not listed"
    )
    assert format_errors(["e"] * 10, total=11).endswith("; and 1 more validation error not listed")
    assert len(format_errors(["x" * 100_000])) < 8_300


def test_shown_values_are_bounded_and_encodable() -> None:
    assert show("x" * 10_000) == "'" + "x" * 256 + "...'"
    shown = show([{"k": "v" * 100}] * 100_000)
    assert len(shown) < 300 and shown.endswith("...'")
    assert show(b"\x00" * 10_000) == "'<10000 bytes>'"
    assert show("a\ud800") == "'a\\ud800'"
    assert printable("ok") == "ok"
    show("\ud800").encode("utf-8")


def test_unknown_parameter_names_are_cut() -> None:
    text = message("sagemaker", "ListModels", {"n" * 10_000: 1})
    assert len(text) < 400


@pytest.mark.parametrize(
    "value",
    ["nan", "inf", "-Infinity", "1e300", math.nan, math.inf, 1e300, 10**400, 253402300800.0],
)
def test_timestamps_must_be_finite_and_in_range(value: Any) -> None:
    text = message(
        "cloudwatch",
        "DescribeAlarmHistory",
        {"StartDate": value},
    )
    assert "'startDate'" in text


def test_timestamps_at_the_ends_of_the_range_are_accepted() -> None:
    shape = operation_model("cloudwatch", "DescribeAlarmHistory").input_shape
    first = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    last = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    params = validate(shape, {"StartDate": first.isoformat(), "EndDate": last.timestamp()})
    assert params == {"StartDate": first.timestamp(), "EndDate": last.timestamp()}


def test_strings_with_unpaired_surrogates_are_refused() -> None:
    text = message("cloudwatch", "DeleteAlarms", {"AlarmNames": ["ok", "\udfff"]})
    assert text == (
        "1 validation error detected: Value '\\udfff' at 'alarmNames.2.member' failed to "
        "satisfy constraint: Member must not contain unpaired surrogate characters"
    )
    # A pair that encodes a real character is fine as it arrives from JSON.
    shape = operation_model("cloudwatch", "DeleteAlarms").input_shape
    assert validate(shape, {"AlarmNames": ["\U0001f600"]}) == {"AlarmNames": ["\U0001f600"]}
