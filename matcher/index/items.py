"""Item vectors of each record (scope entries, clauses) for best-item scoring and item-level candidate search."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from matcher.config import default
from matcher.errors import MatcherError
from matcher.index.atomic import atomic_write_with
from matcher.index.dense import DenseIndex
from matcher.index.dense.store import ScoreTable


class ItemIndex:
    """Distinct item texts with one vector each, and the items of every record row.

    Items are shared across records (thousands of companies list "技术开发"), so each distinct item is
    stored and embedded once; a record scores a query vector by the mean of its `top_m` best items.

    Args:
        dim: embedding dimension.
        top_m: how many best items are averaged into a record's score.
        backend, exact_limit, storage: passed to the DenseIndex over distinct items.
    """

    def __init__(self, dim: int, *, top_m: int = default("items_top_m"), backend: str = default("dense_backend"),
                 exact_limit: int = default("exact_limit"), storage: str = default("vector_storage")) -> None:
        self.dim = dim
        self.top_m = top_m
        self.dense = DenseIndex(dim, backend=backend, exact_limit=exact_limit, storage=storage)
        self._id_of: dict[str, int] = {}
        self._texts: dict[int, str] = {}
        self._items_of_row: dict[int, np.ndarray] = {}
        self._uses = np.zeros(0, dtype=np.int64)  # per item id: how many rows list it
        self._next_item = 0
        self._table: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # see `_flat_table`
        self._owners: tuple[np.ndarray, np.ndarray] | None = None  # see `_owner_table`

    def __len__(self) -> int:
        return len(self._items_of_row)

    @property
    def rows(self) -> np.ndarray:
        """Row ids that have items."""
        return np.fromiter(self._items_of_row, dtype=np.int64, count=len(self._items_of_row))

    def missing(self, items: Sequence[Sequence[str]]) -> list[str]:
        """Distinct item texts not stored yet (the ones the caller must embed), in the order `add` stores them."""
        return [t for t in dict.fromkeys(t for its in items for t in its) if t not in self._id_of]

    def add(self, rows: Sequence[int], items: Sequence[Sequence[str]], new_items: Sequence[str] = (),
            new_vectors: np.ndarray | None = None, *, handed_over: bool = False) -> None:
        """Set (insert or replace) the items of the given rows.

        Args:
            rows: record row ids.
            items: per row, its item texts.
            new_items: every item text `missing` returns for these items (more are ignored).
            new_vectors: (len(new_items), dim) their vectors, row by row. Given in `missing`'s order, they are
                not copied again on their way to the dense index (at 200,000 registrations they are about 2 GB).
            handed_over: the caller no longer uses `new_vectors`: a new item index keeps them as its rows.

        Raises:
            MatcherError: a new item has no vector.
        """
        fresh = self.missing(items)
        if fresh:
            vectors = self._fresh_vectors(fresh, list(new_items), new_vectors)
            ids = np.arange(self._next_item, self._next_item + len(fresh), dtype=np.int64)
            self._next_item += len(fresh)
            if len(self._uses) < self._next_item:
                self._uses = np.concatenate([self._uses, np.zeros(max(self._next_item, 2 * len(self._uses)) - len(self._uses),
                                                                  dtype=np.int64)])
            self.dense.add(ids, vectors, handed_over=handed_over)
            for t, i in zip(fresh, ids.tolist()):
                self._id_of[t] = i
                self._texts[i] = t
        self._table = self._owners = None
        released: list[int] = []
        for row, its in zip(rows, items):
            row = int(row)
            ids = np.array([self._id_of[t] for t in its], dtype=np.int64)
            now, before = set(ids.tolist()), set(self._items_of_row.get(row, np.empty(0, dtype=np.int64)).tolist())
            self._items_of_row[row] = ids
            self._uses[list(now - before)] += 1
            gone = list(before - now)
            self._uses[gone] -= 1
            released += gone
        self._drop(released)

    def _fresh_vectors(self, fresh: list[str], given: list[str], vectors: np.ndarray | None) -> np.ndarray:
        """The vectors of the `fresh` items, in their order, from the `given` texts' `vectors`."""
        if given == fresh and vectors is not None and len(vectors) == len(fresh):
            return vectors
        position = {t: i for i, t in enumerate(given)}
        lost = [t for t in fresh if t not in position]
        if lost or vectors is None:
            raise MatcherError(f"no vector given for {len(lost or fresh)} new item(s), e.g. {(lost or fresh)[0]!r}")
        return np.asarray(vectors)[[position[t] for t in fresh]]

    def _drop(self, released: list[int]) -> None:
        """Drop the items among `released` that no row lists any more (one row may have let go of an item that a
        later row of the same change took up)."""
        items = sorted({i for i in released if self._uses[i] == 0})
        if items:
            self.dense.remove(np.array(items, dtype=np.int64))
            for i in items:
                del self._id_of[self._texts.pop(i)]

    def remove(self, rows: Sequence[int]) -> None:
        """Forget the items of the given rows; items no record uses any more are dropped."""
        self._table = self._owners = None
        released: list[int] = []
        for row in rows:
            gone = list(set(self._items_of_row.pop(int(row), np.empty(0, dtype=np.int64)).tolist()))
            self._uses[gone] -= 1
            released += gone
        self._drop(released)

    def items_of(self, row: int) -> list[str]:
        """The item texts of one row."""
        return [self._texts[i] for i in self._items_of_row.get(int(row), np.empty(0, dtype=np.int64)).tolist()]

    def row_vectors(self, row: int) -> np.ndarray:
        """(n_items, dim) float32 vectors of one row's items, in the order of `items_of` (empty without items)."""
        ids = self._items_of_row.get(int(row), np.empty(0, dtype=np.int64))
        return self.dense.vectors(ids).astype(np.float32, copy=False).reshape(-1, self.dim)

    def score(self, query: np.ndarray, rows: np.ndarray, top_m: int | None = None) -> np.ndarray:
        """Mean of the top-m item similarities of each row to a query vector (0 for rows without items).

        Args:
            query: (dim,) L2-normalised vector.
            rows: row ids to score.
            top_m: items averaged (default: the index's `top_m`).

        Returns:
            float64 scores aligned with `rows`.
        """
        return self._best_items(rows, lambda ids: self.dense.score(query, ids), top_m)

    def table(self, queries: np.ndarray) -> ScoreTable:
        """The similarities of a block of (m, dim) queries with every stored item, for `score_in` (summed in float64:
        the same values for a query in any block, within float32 rounding of `score`'s)."""
        return self.dense.score_table(queries)

    def score_in(self, table: ScoreTable, column: int, rows: np.ndarray, top_m: int | None = None) -> np.ndarray:
        """`score` for query `column` of the block a `table` was made for, its similarities read from the table."""
        return self._best_items(rows, lambda ids: table.score(column, ids), top_m)

    def _best_items(self, rows: np.ndarray, item_scores: Callable[[np.ndarray], np.ndarray], top_m: int | None) -> np.ndarray:
        """Each row's mean of its top-m items' scores, the scores of distinct item ids given by `item_scores`."""
        lengths, flat = self._lookup(np.asarray(rows, dtype=np.int64))
        out = np.zeros(len(rows), dtype=np.float64)
        if lengths.sum() == 0:
            return out
        uniq, inverse = np.unique(flat, return_inverse=True)
        sims = item_scores(uniq)[inverse]
        padded = np.full((len(rows), int(lengths.max())), -np.inf)
        mask = np.arange(padded.shape[1]) < lengths[:, None]
        padded[mask] = sims
        m = min(top_m or self.top_m, padded.shape[1])
        best = -np.sort(-padded, axis=1)[:, :m]
        counts = np.minimum(lengths, m)
        best[~np.isfinite(best)] = 0.0
        has = counts > 0
        out[has] = best[has].sum(axis=1) / counts[has]
        return out

    def item_count(self, rows: np.ndarray) -> int:
        """How many items the given rows hold together (an item shared by two of them counted twice)."""
        counts = self._flat_table()[0]
        rows = np.asarray(rows, dtype=np.int64)
        rows = rows[(rows >= 0) & (rows < len(counts))]
        return int(counts[rows].sum())

    def _lookup(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The number of items of each row and all their item ids, row after row (as the rows' lists concatenated)."""
        counts, starts, table = self._flat_table()
        inside = (rows >= 0) & (rows < len(counts))
        lengths = np.where(inside, counts[np.where(inside, rows, 0)], 0)
        offsets = np.repeat(starts[np.where(inside, rows, 0)] - np.cumsum(lengths) + lengths, lengths)
        return lengths, table[offsets + np.arange(int(lengths.sum()))]

    def _flat_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every row's item count, the start of its items and all item ids row after row (built on first use after
        a change)."""
        if self._table is None:
            n = max(self._items_of_row, default=-1) + 1
            counts = np.zeros(n, dtype=np.int64)
            for r, ids in self._items_of_row.items():
                counts[r] = len(ids)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
            flat = np.zeros(int(counts.sum()), dtype=np.int64)
            for r, ids in self._items_of_row.items():
                flat[starts[r] : starts[r] + len(ids)] = ids
            self._table = (counts, starts, flat)
        return self._table

    def _owner_table(self) -> tuple[np.ndarray, np.ndarray]:
        """For every item id, the start of its rows, and all rows item after item, each item's rows ascending
        (built on first use after a change, from `_flat_table`)."""
        if self._owners is None:
            counts, _, flat = self._flat_table()
            rows = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
            order = np.lexsort((rows, flat))
            items, rows = flat[order], rows[order]
            # a row listing an item twice counts once (cut to the items there are: an empty index has none)
            first = np.r_[True, (items[1:] != items[:-1]) | (rows[1:] != rows[:-1])][: len(items)]
            items, rows = items[first], rows[first]
            self._owners = (np.searchsorted(items, np.arange(self._next_item + 1)), rows)
        return self._owners

    def search(self, queries: np.ndarray, k: int) -> list[np.ndarray]:
        """Rows owning the items nearest to each query (item-level candidate generation).

        Args:
            queries: (m, dim) vectors.
            k: rows wanted per query.

        Returns:
            Per query, up to k row ids: the rows of the best item first (in row order), then those of the next
            item not listed yet, and so on.
        """
        _, ids = self.dense.search(queries, max(k, 1))
        starts, owners = self._owner_table()
        out = []
        for row_ids in ids:
            found: dict[int, None] = {}
            for i in row_ids.tolist():
                if i < 0:
                    break
                found.update(dict.fromkeys(owners[starts[i] : starts[i + 1]].tolist()))
                if len(found) >= k:
                    break
            out.append(np.fromiter(found, dtype=np.int64, count=len(found))[:k])
        return out

    def save(self, directory: str | Path) -> None:
        """Write items, row lists and item vectors into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_with(directory / "items.json", self._write_json)
        self.dense.save(directory / "dense")

    def _write_json(self, fh: BinaryIO) -> None:
        """Stream items.json into a binary file: the text of `json.dumps` of {dim, top_m, next_item, items: {id:
        text}, rows: {row: [item ids]}}, written row by row (at 200,000 registrations the whole text and the rows as
        Python lists held about 0.3 GB at once)."""
        out = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        head = {"dim": self.dim, "top_m": self.top_m, "next_item": self._next_item}
        out.write(json.dumps(head)[:-1] + ', "items": ')
        json.dump({str(i): t for i, t in self._texts.items()}, out, ensure_ascii=False)
        out.write(', "rows": {')
        for n, row in enumerate(sorted(self._items_of_row)):
            out.write(f'{", " if n else ""}"{row}": {json.dumps(self._items_of_row[row].tolist())}')
        out.write("}}")
        out.flush()
        out.detach()  # the caller flushes, syncs and closes the file

    @classmethod
    def load(cls, directory: str | Path) -> ItemIndex:
        """Read an ItemIndex written by `save`."""
        directory = Path(directory)
        try:
            payload = json.loads((directory / "items.json").read_text(encoding="utf-8"))
            dense = DenseIndex.load(directory / "dense")
        except (OSError, ValueError) as exc:
            raise MatcherError(f"item index at {directory} is damaged ({exc}): rebuild it with `matcher build`") from None
        index = cls(payload["dim"], top_m=payload["top_m"])
        index.dense = dense
        index._next_item = payload["next_item"]
        index._texts = {int(i): t for i, t in payload["items"].items()}
        index._id_of = {t: i for i, t in index._texts.items()}
        index._items_of_row = {int(r): np.array(ids, dtype=np.int64) for r, ids in payload["rows"].items()}
        starts, _ = index._owner_table()
        index._uses = np.diff(starts)
        return index
