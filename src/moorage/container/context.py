"""The context object handed to inference-script handlers that ask for one.

A handler asks for it by taking one more positional parameter than the
contract requires (``predict_fn(data, model, context)``); the script loader in
:mod:`moorage.container.handlers` detects that by signature. One
:class:`Context` is built per request by :mod:`moorage.container.app` (only
when some handler takes it), one at load time for ``model_fn``, and one per
adapter hook call.

It is modelled on the SageMaker inference toolkit's (Multi Model Server's)
``Context`` where scripts commonly touch it: ``system_properties["model_dir"]``,
``get_request_header(0, name)`` and ``set_response_header(0, name, value)``
keep working unchanged (the leading batch index is accepted and ignored,
because this server never batches). The rest is small and typed:
``custom_attributes``, ``set_custom_attributes()`` and ``adapter``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import overload

CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
_NO_HEADERS: Sequence[tuple[bytes, bytes]] = ()
_EMPTY: Mapping[str, str] = MappingProxyType({})


class Context:
    """What a handler may learn about its request, and how it shapes the response.

    ``request_headers`` has lower-cased names. ``response_headers`` is what
    the handler added; the server sends it with the response (``Content-Type``
    set here overrides the encoded type).
    """

    __slots__ = (
        "_headers",
        "_raw_headers",
        "adapter",
        "custom_attributes",
        "model_dir",
        "response_headers",
        "system_properties",
    )

    def __init__(
        self,
        model_dir: str,
        system_properties: Mapping[str, object],
        *,
        raw_headers: Sequence[tuple[bytes, bytes]] = _NO_HEADERS,
        custom_attributes: str | None = None,
        adapter: str | None = None,
    ) -> None:
        self.model_dir = model_dir
        self.system_properties = system_properties
        self.custom_attributes = custom_attributes
        self.adapter = adapter
        self.response_headers: dict[str, str] = {}
        self._raw_headers = raw_headers
        # Decoded on first use: most handlers never look at the headers.
        self._headers: Mapping[str, str] | None = None if raw_headers else _EMPTY

    @property
    def request_headers(self) -> Mapping[str, str]:
        if self._headers is None:
            self._headers = MappingProxyType(
                {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self._raw_headers}
            )
        return self._headers

    @overload
    def get_request_header(self, name: str, /) -> str | None: ...

    @overload
    def get_request_header(self, index: int, name: str, /) -> str | None: ...

    def get_request_header(self, first: int | str, name: str | None = None, /) -> str | None:
        """A request header by (case-insensitive) name; ``(0, name)`` as in the toolkit."""
        key = first if isinstance(first, str) else name
        if key is None:
            raise TypeError("get_request_header() needs a header name")
        return self.request_headers.get(key.lower())

    @overload
    def set_response_header(self, name: str, value: str, /) -> None: ...

    @overload
    def set_response_header(self, index: int, name: str, value: str, /) -> None: ...

    def set_response_header(self, *args: int | str) -> None:
        """Add a response header: ``(name, value)``, or ``(0, name, value)`` as in the toolkit."""
        if len(args) == 3:
            args = args[1:]
        if len(args) != 2 or not all(isinstance(a, str) for a in args):
            raise TypeError("set_response_header() takes (name, value) or (index, name, value)")
        self.response_headers[str(args[0])] = str(args[1])

    def set_custom_attributes(self, value: str) -> None:
        """Send ``value`` back in the ``X-Amzn-SageMaker-Custom-Attributes`` response header."""
        self.response_headers[CUSTOM_ATTRIBUTES_HEADER] = value
