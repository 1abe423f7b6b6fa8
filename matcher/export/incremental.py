"""Incremental nightly runs: which lists a change of the records can move, and the previous run's rows kept to reuse.

A list (one query's top k) depends on the query record and on the whole ranked side: BM25's idf and average length,
the z-normalised candidate pools and the portfolio floor move with every change of the ranked side, so a direction
whose ranked side changed is ranked again in full. When only the query side changed, a list depends on the query's own
record and vector, the patents a querying enterprise holds and (enterprise -> patent, "reciprocal" weighted) where
the enterprise stands in every patent's own list; a query whose fingerprint of these is unchanged keeps its rows.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.engine import Matcher
from matcher.index.atomic import atomic_dir, atomic_write_text
from matcher.index.collection import read_parquet_whole
from matcher.schema import Direction, Kind

STATE_DIR = ".incremental"
STATE_FILE = "state.json"
VECTOR_BLOCK = 8192
"""Vectors are read and hashed this many records at a time (a copy of all 201,725 enterprise vectors is 620 MB)."""


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:24]


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per record (every column: text, name and the metadata the export copies)."""
    return pd.util.hash_pandas_object(frame.reset_index(drop=True)[sorted(frame.columns)], index=False).to_numpy()


def _vector_blocks(matcher: Matcher, kind: Kind) -> Iterator[np.ndarray]:
    """The vectors of one side's records, in record order, `VECTOR_BLOCK` rows at a time (float32, C order)."""
    coll = matcher.get(kind)
    rows = coll.records.index.to_numpy(dtype=np.int64)
    for start in range(0, len(rows), VECTOR_BLOCK):
        yield np.ascontiguousarray(coll.dense.vectors(rows[start : start + VECTOR_BLOCK]))


def ranked_side(matcher: Matcher, direction: Direction) -> str:
    """The fingerprint of what every list of `direction` depends on beyond its own query: the ranked side's records
    (all columns) and vectors, and the signals derived from whole collections."""
    target = matcher.get(direction.target)
    vectors = hashlib.sha256()  # of all the vectors' bytes, block after block
    for block in _vector_blocks(matcher, direction.target):
        vectors.update(block.tobytes())
    parts: list[object] = [direction.value, _digest(_row_hashes(target.records).tolist()), vectors.hexdigest()]
    signals = matcher.signals
    if len(signals.portfolio):  # held patents: the floor (all patents' vectors) and, towards enterprises, who holds what
        parts.append(round(float(signals.portfolio_floor), 12))
        patents = matcher.get(Kind.PATENT)
        parts.append(_digest(_row_hashes(patents.records).tolist()))
    if direction.target == Kind.ENTERPRISE and matcher.config.activity_model is not None:
        # the prior's values follow from its model and the enterprises' records (above): computing them for a
        # fingerprint took 24 s at 200,000 registrations
        parts.append(signals.activity_source())
    grades = matcher.grades()
    if direction.target == Kind.PATENT and grades is not None:  # the grade prior and the merged duplicates left out
        parts.append(_digest(_row_hashes(grades[[c for c in ("id", "tier", "prospect", "pushable") if c in grades]]).tolist()))
    return _digest(parts)


def query_fingerprints(matcher: Matcher, direction: Direction) -> pd.Series:
    """Per query id of `direction`, the fingerprint of what its list depends on besides the ranked side: its
    record and vector, the patents it holds (an enterprise) and where it stands in every patent's own list
    ("reciprocal")."""
    source = matcher.get(direction.source)
    records = source.records
    rows = records.index.to_numpy(dtype=np.int64)
    own = _row_hashes(records)
    extra = [""] * len(records)
    signals = matcher.signals
    if direction.source == Kind.ENTERPRISE:
        patents = matcher.get(Kind.PATENT)
        patent_ids = np.zeros(0, dtype=object)  # patent row -> id
        if patents is not None and len(patents):
            patent_ids = np.empty(int(patents.records.index.max()) + 1, dtype=object)
            patent_ids[patents.records.index.to_numpy(dtype=np.int64)] = patents.records["id"].astype(str).to_numpy()
        portfolio = signals.portfolio if len(signals.portfolio) else None
        reciprocal = signals.reciprocal if signals.uses_reciprocal() else None
        for i, row in enumerate(rows):
            held = patent_ids[portfolio.patents_of(int(row))].tolist() if portfolio is not None else []
            mutual = []
            if reciprocal is not None:
                found, ranks = reciprocal.of_target(int(row))
                mutual = sorted(zip(patent_ids[found].tolist(), ranks.tolist()))
            if held or mutual:
                extra[i] = _digest(held, mutual)
    vectors = chain.from_iterable(_vector_blocks(matcher, direction.source))
    values = [_digest(int(h), hashlib.sha256(v.tobytes()).hexdigest(), e) for h, v, e in zip(own, vectors, extra)]
    return pd.Series(values, index=records["id"].astype(str).to_numpy())


@dataclass
class DirectionState:
    """One direction of the previous run: its fingerprints and its rows (every query's list, before caps and the
    confidence threshold)."""

    ranked_side: str
    queries: pd.Series
    rows: pd.DataFrame


class RunState:
    """The previous finished run's state in `OUT/.incremental`, replaced atomically after every finished run.

    Args:
        out_dir: the export root.
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.folder = Path(out_dir) / STATE_DIR

    def exists(self) -> bool:
        """Whether a finished run left its state here."""
        return (self.folder / STATE_FILE).is_file()

    def read(self, params: str) -> dict[Direction, DirectionState] | None:
        """The saved directions when the state was written with the same job parameters (`params`), else None."""
        try:
            meta = json.loads((self.folder / STATE_FILE).read_text(encoding="utf-8"))
            if meta.get("params") != params:
                return None
            out = {}
            for value, info in meta["directions"].items():
                direction = Direction(value)
                queries = pd.read_parquet(self.folder / f"{direction.stem}-queries.parquet")
                out[direction] = DirectionState(info["ranked_side"], pd.Series(queries["fingerprint"].to_numpy(),
                                                                               index=queries["query_id"].to_numpy()),
                                                read_parquet_whole(self.folder / f"{direction.stem}.parquet"))
            return out
        except (OSError, ValueError, KeyError, TypeError):  # no state, or an unreadable one: a full run
            return None

    def write(self, params: str, directions: dict[Direction, DirectionState]) -> None:
        """Replace the saved state (atomically: the previous one stays until the new one is complete)."""
        with atomic_dir(self.folder) as tmp:
            for direction, state in directions.items():
                state.rows.to_parquet(tmp / f"{direction.stem}.parquet", index=False)
                pd.DataFrame({"query_id": state.queries.index, "fingerprint": state.queries.to_numpy()}).to_parquet(
                    tmp / f"{direction.stem}-queries.parquet", index=False)
            meta = {"params": params, "directions": {d.value: {"ranked_side": s.ranked_side} for d, s in directions.items()}}
            atomic_write_text(tmp / STATE_FILE, json.dumps(meta, indent=2))


def same_state(before: DirectionState, now: DirectionState) -> bool:
    """Whether a direction's fingerprints are the previous run's: the same ranked side and the same queries, in the
    same order, with the same fingerprints (every list was kept, so its rows are the previous rows)."""
    return (before.ranked_side == now.ranked_side and before.queries.index.equals(now.queries.index)
            and np.array_equal(before.queries.to_numpy(), now.queries.to_numpy()))


def spans(frame: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Query id -> the (start, stop) positions of its rows in a frame whose rows are grouped by query."""
    if frame.empty:
        return {}
    ids = frame["query_id"].astype(str).to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    stops = np.r_[starts[1:], len(ids)]
    return dict(zip(ids[starts], zip(starts.tolist(), stops.tolist())))


def unchanged(before: pd.Series, now: pd.Series) -> set[str]:
    """The query ids whose fingerprint is the same in both runs."""
    common = now.index.intersection(before.index)
    same = now.loc[common].to_numpy() == before.loc[common].to_numpy()
    return set(common[same].tolist())


def assemble(chunk: list[str], fresh: pd.DataFrame | None, kept: pd.DataFrame, kept_spans: dict[str, tuple[int, int]],
             keep: set[str]) -> pd.DataFrame:
    """One part's rows in the chunk's query order: the freshly ranked queries' rows and the kept queries' rows of
    the previous run (both read as Parquet reads them, so the part is the one a full run writes).

    Args:
        chunk: the chunk's query ids, in export order.
        fresh: the rows ranked now (grouped by query), or None.
        kept: the previous run's rows.
        kept_spans: `spans(kept)`.
        keep: the query ids whose previous rows are kept.

    Returns:
        The part's rows.
    """
    if fresh is not None and len(fresh):
        buf = io.BytesIO()
        fresh.to_parquet(buf, index=False)
        fresh = pd.read_parquet(buf)
    fresh_spans = spans(fresh) if fresh is not None else {}
    taken = [kept_spans[q] for q in chunk if q not in fresh_spans and q in keep and q in kept_spans]
    take = np.concatenate([np.arange(a, b) for a, b in taken]) if taken else np.zeros(0, dtype=np.int64)
    pieces = [f for f in (fresh, kept.iloc[take]) if f is not None and len(f)]
    if not pieces:
        return pd.DataFrame()
    rows = pd.concat(pieces, ignore_index=True)
    n_fresh = len(fresh) if fresh is not None else 0
    position, cursor, kept_at = [], n_fresh, {}
    for a, b in taken:
        kept_at[(a, b)] = cursor
        cursor += b - a
    for q in chunk:
        if q in fresh_spans:
            a, b = fresh_spans[q]
            position.extend(range(a, b))
        elif q in keep and q in kept_spans:
            a, b = kept_spans[q]
            start = kept_at[(a, b)]
            position.extend(range(start, start + b - a))
    return rows.iloc[position].reset_index(drop=True)
