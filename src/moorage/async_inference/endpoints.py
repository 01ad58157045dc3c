"""Which endpoints are asynchronous, and their async config, read from the store.

An endpoint is asynchronous when its current endpoint config has an
``AsyncInferenceConfig``. :class:`AsyncEndpoints` answers that for the
router (:mod:`moorage.async_inference.routes`), the request handler and the
dispatcher. Endpoint configs never change once created, so a parsed config
is kept by name and creation time.
"""

from __future__ import annotations

from dataclasses import dataclass

from moorage.async_inference.config import AsyncConfig, async_config_of
from moorage.domain import endpoint_config as config_domain
from moorage.domain.endpoint import KIND as ENDPOINT_KIND
from moorage.domain.endpoint import Endpoint, endpoint_from_record
from moorage.store.base import Store

_MAX_CACHED = 4096


@dataclass(frozen=True)
class AsyncEndpoint:
    endpoint: Endpoint
    config: AsyncConfig | None  # None: a real-time endpoint
    first_variant: str


class AsyncEndpoints:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._configs: dict[tuple[str, float], tuple[AsyncConfig | None, str]] = {}
        # The last config read per name: an endpoint keeps serving (asynchronously)
        # after its config is deleted, as on SageMaker.
        self._by_name: dict[str, tuple[AsyncConfig | None, str]] = {}

    def get(self, name: str) -> AsyncEndpoint | None:
        """The endpoint and its async config; None when there is no such endpoint."""
        record = self.store.get(ENDPOINT_KIND, name)
        if record is None:
            return None
        endpoint = endpoint_from_record(record)
        config, first = self._config(endpoint.config_name)
        return AsyncEndpoint(endpoint, config, first)

    def config(self, name: str) -> AsyncConfig | None:
        found = self.get(name)
        return None if found is None else found.config

    def is_async(self, name: str) -> bool:
        return self.config(name) is not None

    def _config(self, config_name: str) -> tuple[AsyncConfig | None, str]:
        record = self.store.get(config_domain.KIND, config_name)
        if record is None:
            return self._by_name.get(config_name.lower(), (None, ""))
        key = (record.key, record.created)
        found = self._configs.get(key)
        if found is None:
            config = config_domain.endpoint_config_from_record(record)
            first = config.variants[0].name if config.variants else ""
            if len(self._configs) >= _MAX_CACHED:
                self._configs.clear()
            found = self._configs[key] = (async_config_of(config.spec), first)
            self._by_name[record.key] = found
        return found
