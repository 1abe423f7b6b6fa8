"""The workbench's writes to the index (uploads, edited patent terms): under the writers' lock, then a fresh engine."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from matcher.engine import Matcher
from matcher.schema import Kind, schema_for
from matcher.workbench import resources


def upsert_records(kind: Kind, frame: pd.DataFrame) -> tuple[int, int]:
    """Add or replace validated records in the index the workbench serves (MATCHER_INDEX_DIR).

    The change is applied to the latest saved index under its writers' lock (as `matcher upsert` does), saved
    atomically, and the cached engine is dropped, so every page searches the new index at once.

    Args:
        kind: the side of the records.
        frame: validated records (matcher.ingest.validate_frame's frame).

    Returns:
        (records added, records replaced).

    Raises:
        MatcherError: the lock is not free in time, or the index cannot be read or written (it is left unchanged).
    """
    directory = resources.index_dir()
    with Matcher.lock(directory):
        matcher = resources.load_matcher(directory, preload=False)
        counts = matcher.index(kind, frame)
        matcher.save(directory)
    fresh_engine()
    return counts


def update_fields(kind: Kind, record_id: str, values: Mapping[str, str]) -> None:
    """Replace some columns of one stored record (e.g. a patent's licence mode, price, maturity) in the index.

    Raises:
        MatcherError: no such record, or the index cannot be read or written.
    """
    directory = resources.index_dir()
    columns = list(schema_for(kind).columns)
    with Matcher.lock(directory):
        matcher = resources.load_matcher(directory, preload=False)
        record = matcher.collection(kind).record(record_id)
        row = {c: str(record.get(c, "") or "") for c in columns} | {c: str(v) for c, v in values.items()}
        matcher.index(kind, pd.DataFrame([row], columns=columns))
        matcher.save(directory)
    fresh_engine()


def fresh_engine() -> None:
    """Drop the cached engine (the next page loads the saved index)."""
    resources._cached_matcher.clear()  # noqa: SLF001 - the cache is keyed by the files' mtimes; this frees the old copy
