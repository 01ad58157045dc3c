"""Durable state. Only this package touches a database.

:class:`~moorage.store.base.Store` is the interface; :mod:`.sqlite` is the
default (WAL, fsync on commit) and :mod:`.memory` serves unit tests.
"""

from moorage.store.base import AlreadyExists, Record, Store, StoreUnavailable

__all__ = ["AlreadyExists", "Record", "Store", "StoreUnavailable"]
