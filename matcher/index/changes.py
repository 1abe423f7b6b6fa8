"""What a complete set of records changes in a saved collection: the records that are new or differ, and the ids
that are gone (for a build that updates the saved index instead of indexing everything again)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matcher.index.collection import Collection, as_stored
from matcher.schema import Kind, schema_for

# two keys of pandas' row hash (16 characters each)
HASH_KEYS = ("matcher-records1", "matcher-records2")


@dataclass(frozen=True)
class RecordChanges:
    """The difference between the records of one kind a build is given and those a collection holds.

    Attributes:
        kind: the record kind.
        upserts: the given records that are new or differ in any column (in the order given).
        added: how many of the upserts are new ids (the others replace a stored record).
        deletions: the ids the collection holds that the given records no longer have (in row order).
        unchanged: how many given records equal the stored ones in every column.
    """

    kind: Kind
    upserts: pd.DataFrame
    added: int
    deletions: tuple[str, ...]
    unchanged: int

    @property
    def empty(self) -> bool:
        """Whether the given records are exactly the stored ones."""
        return len(self.upserts) == 0 and not self.deletions


def complete_records(kind: Kind, frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The records of one kind that several inputs give together, as a build indexes them one after the other: the
    canonical columns as strings, and for an id given twice its last version (in the position of its first)."""
    columns = list(schema_for(kind).columns)
    parts = [as_stored(f, columns) for f in frames]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    if frame["id"].duplicated().any():
        last = frame.drop_duplicates("id", keep="last").set_index("id")
        order = frame["id"].drop_duplicates(keep="first")
        frame = last.loc[order].reset_index()[columns]
    return frame.reset_index(drop=True)


def record_changes(coll: Collection | None, kind: Kind, frame: pd.DataFrame) -> RecordChanges:
    """Compare the complete records of one kind (`complete_records`) with a collection's.

    Args:
        coll: the saved collection (None: nothing saved, every record is new).
        kind: the record kind.
        frame: the complete records, canonical columns as strings, unique ids.

    Returns:
        The changes that make the collection hold exactly `frame`'s records.
    """
    columns = list(schema_for(kind).columns)
    if coll is None or len(coll) == 0:
        return RecordChanges(kind, frame.copy(), len(frame), (), 0)
    stored = coll.records[columns]
    stored_hash, given_hash = row_hashes(stored), row_hashes(frame[columns])
    position = pd.Index(stored["id"].to_numpy()).get_indexer(frame["id"].to_numpy())
    known = position >= 0
    same = known.copy()
    same[known] = (stored_hash[position[known]] == given_hash[known]).all(axis=1)
    kept = set(frame["id"])
    deletions = tuple(i for i in stored["id"] if i not in kept)
    return RecordChanges(kind, frame.loc[~same].reset_index(drop=True), int((~known).sum()), deletions, int(same.sum()))


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """Two independent 64-bit hashes of each row's values (columns in the order given), shape (rows, 2): a changed
    record passes for unchanged only if both collide."""
    rows = frame.reset_index(drop=True)
    return np.stack([pd.util.hash_pandas_object(rows, index=False, hash_key=key).to_numpy(dtype=np.uint64)
                     for key in HASH_KEYS], axis=1)
