"""What to capture and where: a typed parse of SageMaker's two capture shapes.

An endpoint config's ``DataCaptureConfig`` and an inference experiment's
``DataStorageConfig`` both say where captured request/response pairs go and
which content types are written as text. :class:`CaptureConfig` is the one
form the writer (:mod:`moorage.capture.writer`) and the sampler
(:mod:`moorage.capture.sampling`) use. It is frozen and hashable, so the
writer can group records by it.

The inputs are expected to have passed the API's shape validation (botocore's
model: ``InitialSamplingPercentage`` 0-100, ``CaptureMode`` one of ``Input``,
``Output``, ``InputAndOutput``); the parse still checks what it relies on and
raises :class:`~moorage.capture.errors.CaptureConfigError` otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from moorage.capture.destination import Destination, parse_destination
from moorage.capture.errors import CaptureConfigError

_MODES = {"Input": (True, False), "Output": (False, True), "InputAndOutput": (True, True)}


@functools.lru_cache(maxsize=256)
def media_type(content_type: str) -> str:
    """``content_type`` without parameters, lower-cased (``Text/CSV; charset=x`` → ``text/csv``)."""
    return content_type.split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class CaptureConfig:
    """One capture configuration.

    ``csv_content_types`` and ``json_content_types`` hold media types
    (see :func:`media_type`); a payload whose content type is in neither is
    written base64-encoded.
    """

    destination: Destination
    sampling_percentage: int = 100
    capture_input: bool = True
    capture_output: bool = True
    csv_content_types: tuple[str, ...] = ()
    json_content_types: tuple[str, ...] = ()
    kms_key_id: str | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.sampling_percentage <= 100:
            raise CaptureConfigError(
                f"sampling percentage {self.sampling_percentage} is not between 0 and 100"
            )

    @property
    def destination_uri(self) -> str:
        return self.destination.url

    @classmethod
    def of(
        cls,
        destination: str,
        *,
        sampling_percentage: int = 100,
        capture_input: bool = True,
        capture_output: bool = True,
        csv_content_types: Iterable[str] = (),
        json_content_types: Iterable[str] = (),
        kms_key_id: str | None = None,
        enabled: bool = True,
    ) -> CaptureConfig:
        """A config from plain values (content types are normalised)."""
        return cls(
            destination=parse_destination(destination),
            sampling_percentage=sampling_percentage,
            capture_input=capture_input,
            capture_output=capture_output,
            csv_content_types=_media_types(csv_content_types),
            json_content_types=_media_types(json_content_types),
            kms_key_id=kms_key_id or None,
            enabled=enabled,
        )

    @classmethod
    def from_data_capture_config(cls, config: Mapping[str, Any]) -> CaptureConfig:
        """An endpoint config's ``DataCaptureConfig``."""
        capture_input = capture_output = False
        for option in config.get("CaptureOptions") or ():
            mode = option.get("CaptureMode") if isinstance(option, Mapping) else None
            if mode not in _MODES:
                raise CaptureConfigError(f"CaptureMode {mode!r} is not one of {sorted(_MODES)}")
            wants_input, wants_output = _MODES[mode]
            capture_input |= wants_input
            capture_output |= wants_output
        if not (capture_input or capture_output):
            raise CaptureConfigError("DataCaptureConfig.CaptureOptions names no CaptureMode")
        header = config.get("CaptureContentTypeHeader") or {}
        return cls.of(
            _required_str(config, "DestinationS3Uri", "DataCaptureConfig"),
            sampling_percentage=_percentage(config.get("InitialSamplingPercentage")),
            capture_input=capture_input,
            capture_output=capture_output,
            csv_content_types=header.get("CsvContentTypes") or (),
            json_content_types=header.get("JsonContentTypes") or (),
            kms_key_id=config.get("KmsKeyId"),
            enabled=bool(config.get("EnableCapture", True)),
        )

    @classmethod
    def from_data_storage_config(cls, config: Mapping[str, Any]) -> CaptureConfig:
        """An inference experiment's ``DataStorageConfig``: every request, both sides."""
        content_type = config.get("ContentType") or {}
        return cls.of(
            _required_str(config, "Destination", "DataStorageConfig"),
            csv_content_types=content_type.get("CsvContentTypes") or (),
            json_content_types=content_type.get("JsonContentTypes") or (),
            kms_key_id=config.get("KmsKey"),
        )

    def with_sampling(self, percentage: int) -> CaptureConfig:
        """This config at another sampling percentage (UpdateEndpoint's ``SamplingPercentage``)."""
        return replace(self, sampling_percentage=percentage)


def _media_types(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(media_type(v) for v in values if media_type(v)))


def _required_str(config: Mapping[str, Any], key: str, shape: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value:
        raise CaptureConfigError(f"{shape}.{key} is required")
    return value


def _percentage(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CaptureConfigError(
            f"DataCaptureConfig.InitialSamplingPercentage {value!r} is not an integer"
        )
    return value
