"""Data capture: request/response pairs of endpoints and shadow tests, as SageMaker writes them.

An endpoint config's ``DataCaptureConfig`` and an inference experiment's
``DataStorageConfig`` become a :class:`CaptureConfig`. On the request path
the runtime asks :meth:`CaptureWriter.sampled` and hands sampled pairs to
:meth:`CaptureWriter.offer`, which queues them without blocking; a
background thread writes them as SageMaker-format JSON Lines files to S3 or,
as a local extension, to a directory. The server runs that writer in a
process of its own (:class:`~moorage.capture.process.CaptureProcess`, same
two calls). :func:`read_capture` reads them back.
See ``docs/data-capture.md``.

Modules: :mod:`~moorage.capture.config` (the two API shapes),
:mod:`~moorage.capture.destination` (URLs), :mod:`~moorage.capture.format`
(records), :mod:`~moorage.capture.encode` (records straight to lines, for the
writer), :mod:`~moorage.capture.keys` (file names),
:mod:`~moorage.capture.sampling`, :mod:`~moorage.capture.sinks` (local files,
S3 PutObject), :mod:`~moorage.capture.writer` (queue and thread),
:mod:`~moorage.capture.queue` (what the request path needs of either),
:mod:`~moorage.capture.process` and :mod:`~moorage.capture.worker` (the
writer in a process of its own), :mod:`~moorage.capture.reader`.
"""

from moorage.capture.config import CaptureConfig, media_type
from moorage.capture.destination import Destination, DestinationKind, parse_destination
from moorage.capture.errors import CaptureConfigError, CaptureReadError
from moorage.capture.format import CapturedPayload, CaptureRecord, Encoding, Mode
from moorage.capture.keys import object_key
from moorage.capture.queue import CaptureQueue
from moorage.capture.reader import capture_files, read_capture
from moorage.capture.sampling import Sampler
from moorage.capture.writer import (
    DEFAULT_FLUSH_INTERVAL_S,
    DEFAULT_MAX_QUEUE,
    DEFAULT_MAX_QUEUE_BYTES,
    CaptureStats,
    CaptureWriter,
)

__all__ = [
    "DEFAULT_FLUSH_INTERVAL_S",
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_MAX_QUEUE_BYTES",
    "CaptureConfig",
    "CaptureConfigError",
    "CaptureQueue",
    "CaptureReadError",
    "CaptureRecord",
    "CaptureStats",
    "CaptureWriter",
    "CapturedPayload",
    "Destination",
    "DestinationKind",
    "Encoding",
    "Mode",
    "Sampler",
    "capture_files",
    "media_type",
    "object_key",
    "parse_destination",
    "read_capture",
]
