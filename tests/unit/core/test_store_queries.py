"""Pages in the store: SQLite's query and the memory store's agree, and paging is exact."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moorage.control.paging import page_records
from moorage.store.base import Equals, Record, RecordQuery, Store
from moorage.store.memory import MemoryStore
from moorage.store.sqlite import SqliteStore

NAMES = st.text(alphabet="abAB-1", min_size=1, max_size=5)
STATUSES = st.sampled_from(["InService", "Creating", "Failed"])
RECORDS = st.dictionaries(
    NAMES.map(str.lower),
    st.tuples(st.integers(0, 5), st.integers(0, 5), STATUSES, st.sampled_from(["ep", "EP", "x"])),
    max_size=25,
)
QUERIES = st.fixed_dictionaries(
    {
        "SortBy": st.sampled_from(["Name", "CreationTime", "Status"]),
        "SortOrder": st.sampled_from(["Ascending", "Descending"]),
        "MaxResults": st.integers(1, 7),
    },
    optional={
        "NameContains": st.text(alphabet="abAB-1", min_size=1, max_size=2),
        "CreationTimeAfter": st.floats(-1, 6),
        "LastModifiedTimeBefore": st.floats(-1, 6),
        "StatusEquals": STATUSES,
        "EndpointNameEquals": st.sampled_from(["ep", "Ep", "x"]),
        "fields": st.sampled_from([(), ("endpoint",), ("status", "endpoint")]),
    },
)
SORTS = {"Name": "key", "CreationTime": "created", "Status": "status"}


def fill(store: Store, records: dict[str, tuple[int, int, str, str]]) -> None:
    for name, (created, modified, status, endpoint) in records.items():
        doc = {"status": status, "endpoint": endpoint}
        store.insert(Record("thing", name, f"arn:{name}", float(created), float(modified), doc))


def everything(store: Store, params: dict[str, Any]) -> list[str]:
    """Every page of ``params``, followed by its tokens."""
    equals: list[Equals] = []
    if "StatusEquals" in params:
        equals.append(Equals("status", params["StatusEquals"]))
    if "EndpointNameEquals" in params:
        equals.append(Equals("endpoint", params["EndpointNameEquals"], ignore_case=True))
    names: list[str] = []
    token: str | None = None
    for _ in range(100):
        page = page_records(
            store,
            "thing",
            {**params, "NextToken": token},
            SORTS,
            equals=tuple(equals),
            doc_fields=params.get("fields"),
        )
        assert len(page.items) <= params["MaxResults"]
        for record in page.items:
            if params.get("fields") is not None:
                wanted = set(params["fields"]) | (
                    {"status"} if params["SortBy"] == "Status" else set()
                )
                assert set(record.doc) == wanted
        names.extend(r.name for r in page.items)
        token = page.next_token
        if token is None:
            return names
    raise AssertionError("paging did not end")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS, QUERIES)
def test_sqlite_pages_as_the_memory_store_does(
    records: dict[str, tuple[int, int, str, str]], params: dict[str, Any]
) -> None:
    memory = MemoryStore()
    fill(memory, records)
    with tempfile.TemporaryDirectory() as folder:
        sqlite = SqliteStore(Path(folder) / "db")
        try:
            fill(sqlite, records)
            got = everything(sqlite, params)
        finally:
            sqlite.close()
    assert got == everything(memory, params)
    # Every matching record once, in the asked order, whatever the page size.
    all_at_once = everything(memory, {**params, "MaxResults": 100})
    assert got == all_at_once
    assert len(set(got)) == len(got)


def test_a_page_decodes_only_its_own_records(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db")
    for i in range(300):
        doc = {"status": "InService" if i % 3 else "Failed", "endpoint": "ep"}
        store.insert(Record("thing", f"n{i:03}", f"arn:{i}", float(i), float(i), doc))
    query = RecordQuery(equals=(Equals("status", "Failed"),), limit=5, after=(150.0, "n150"))
    got = store.query_records("thing", query)
    assert [r.name for r in got] == ["n147", "n144", "n141", "n138", "n135"]
    store.close()
