"""One side of the market (patents or enterprises): records, dense index and BM25 index kept consistent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from matcher.config import default
from matcher.errors import MatcherError, NotBuiltError
from matcher.index.dense import DenseIndex
from matcher.index.items import ItemIndex
from matcher.index.lexical import BM25Index
from matcher.index.manifest import Manifest, check_manifest, current_versions, data_hash, read_manifest, utc_now, write_manifest
from matcher.index.substring import SubstringIndex
from matcher.schema import Kind, schema_for

RECORDS_FILE = "records.parquet"
# the indexed text of a record (its schema text fields joined), stored beside the canonical columns
CONTENT = "content"


def read_parquet_whole(path: Path) -> pd.DataFrame:
    """A Parquet file (saved records, the nightly job's kept rows) with each column in one piece: `pd.read_parquet`
    may hand a string column over in several chunks, and taking rows from chunked columns is slow (a query's ten hits:
    1-6 ms a column against 0.02 ms from one chunk, about 20 ms a query for the 14 columns of 201,725 enterprises;
    the kept lists of the nightly job's 404 chunks at that size: 48 s).

    Raises:
        OSError, ValueError: the file cannot be read as parquet.
    """
    table = pq.read_table(path)
    schema, columns = table.schema, table.columns
    del table
    for i, column in enumerate(columns):  # one column at a time: never two copies of the whole file
        columns[i] = column.combine_chunks()
    return pa.Table.from_arrays(columns, schema=schema).to_pandas(self_destruct=True, split_blocks=True)


def as_stored(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Records as a collection stores them: exactly `columns` (missing ones empty), every value a string ("" for
    none)."""
    return frame.reindex(columns=list(columns), fill_value="").astype(object).fillna("").astype(str)


class Collection:
    """Records of one kind with their dense vectors and BM25 terms, addressed by string id.

    Internally every record has an int64 row id (stable for its lifetime) shared by the FAISS and
    BM25 indexes; `upsert` and `delete` update records and both indexes together, so a re-added id
    replaces its old vector and terms instead of adding a duplicate.

    Args:
        kind: the record kind.
        dim: embedding dimension.
        model_id: the encoder the vectors come from (checked on load).
        dense_backend, exact_limit, vector_storage: passed to DenseIndex (and the items' DenseIndex).
        bm25_k1, bm25_b: passed to BM25Index.
    """

    def __init__(
        self,
        kind: Kind | str,
        dim: int,
        model_id: str,
        *,
        dense_backend: str = default("dense_backend"),
        exact_limit: int = default("exact_limit"),
        vector_storage: str = default("vector_storage"),
        bm25_k1: float = default("bm25_k1"),
        bm25_b: float = default("bm25_b"),
        segmenter_config: Mapping | None = None,
    ) -> None:
        self.kind = Kind(kind)
        self.schema = schema_for(self.kind)
        self.dim = dim
        self.model_id = model_id
        self.segmenter_config = dict(segmenter_config or {})
        dense = {"backend": dense_backend, "exact_limit": exact_limit, "storage": vector_storage}
        self.dense = DenseIndex(dim, **dense)
        self.lexical = BM25Index(k1=bm25_k1, b=bm25_b)
        # enterprises also keep their business-scope / demand items for best-item scoring
        self.items = ItemIndex(dim, **dense) if self.kind == Kind.ENTERPRISE else None
        self.records = pd.DataFrame(columns=[*self.schema.columns, CONTENT], index=pd.Index([], dtype="int64"))
        self._row_of: dict[str, int] = {}
        self._next_row = 0
        self._substrings: SubstringIndex | None = None

    def set_nprobe(self, nprobe: int) -> None:
        """Scan `nprobe` IVF lists per query in this collection's dense indexes (its records' and its items')."""
        self.dense.set_nprobe(nprobe)
        if self.items is not None:
            self.items.dense.set_nprobe(nprobe)

    # ----------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, record_id: str) -> bool:
        return record_id in self._row_of

    @property
    def ids(self) -> list[str]:
        """String ids of all records, in row-id order."""
        return self.records["id"].tolist()

    def rows_of(self, ids: Sequence[str]) -> np.ndarray:
        """Row ids of the given record ids.

        Raises:
            MatcherError: naming the ids that are not in the collection.
        """
        missing = [i for i in ids if i not in self._row_of]
        if missing:
            shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
            raise MatcherError(f"unknown {self.kind.value} id(s): {shown}")
        return np.array([self._row_of[i] for i in ids], dtype=np.int64)

    def stored_terms(self, ids: Sequence[str]) -> list[list[str]]:
        """The distinct BM25 terms of stored records, read from the lexical index (the set `Matcher.terms` gives for
        their text, without segmenting it again)."""
        return self.lexical.doc_terms(self.rows_of(ids))

    def record(self, record_id: str) -> dict:
        """One record as a dict of its columns (raises MatcherError for an unknown id)."""
        row = self.rows_of([record_id])[0]
        return self.records.loc[row].to_dict()

    @property
    def substrings(self) -> SubstringIndex:
        """Literal phrase lookup over the records' texts (derived from the records, rebuilt after changes)."""
        if self._substrings is None:
            self._substrings = SubstringIndex(self.records.index.to_numpy(dtype=np.int64), self.records[CONTENT].tolist(),
                                              k1=self.lexical.k1, b=self.lexical.b)
        return self._substrings

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """Stored embeddings of the given record ids."""
        return self.dense.vectors(self.rows_of(ids))

    # ----------------------------------------------------------------- update
    def upsert(
        self,
        frame: pd.DataFrame,
        vectors: np.ndarray,
        tokens: Sequence[Sequence[str]],
        items: Sequence[Sequence[str]] | None = None,
        new_items: Sequence[str] = (),
        item_vectors: np.ndarray | None = None,
        *,
        handed_over: bool = False,
    ) -> tuple[int, int]:
        """Insert new records or replace existing ones (matched by `id`) in records, FAISS, BM25 and items.

        Args:
            frame: records with the schema's canonical columns and the indexed text in column CONTENT.
            vectors: their embeddings, aligned with `frame` rows.
            tokens: their BM25 terms, aligned with `frame` rows.
            items: per row, its items (required for enterprises: see `matcher.text.items`).
            new_items: the item texts `self.items.missing(items)` reported as new.
            item_vectors: their vectors, row by row.
            handed_over: the caller no longer uses `vectors` and `item_vectors`: an empty collection keeps them as
                its rows instead of copies.

        Returns:
            (number added, number replaced).
        """
        if len(frame) != len(vectors) or len(frame) != len(tokens):
            raise ValueError("frame, vectors and tokens must have the same length")
        if frame["id"].duplicated().any():
            dup = frame.loc[frame["id"].duplicated(), "id"].iloc[0]
            raise MatcherError(f"id {dup!r} appears twice in the records to upsert")
        if vectors.shape[1:] != (self.dim,):
            raise MatcherError(f"vectors have dimension {vectors.shape[1:]}, the collection expects {self.dim}")
        rows = []
        replaced = 0
        for rid in frame["id"]:
            if rid in self._row_of:
                replaced += 1
                rows.append(self._row_of[rid])
            else:
                rows.append(self._next_row)
                self._row_of[rid] = self._next_row
                self._next_row += 1
        rows_arr = np.asarray(rows, dtype=np.int64)
        new = as_stored(frame, self.records.columns)
        new.index = pd.Index(rows_arr, dtype="int64")
        self.dense.add(rows_arr, vectors, handed_over=handed_over)
        self.lexical.add(rows_arr, [list(t) for t in tokens])
        if self.items is not None:
            if items is None or len(items) != len(frame):
                raise ValueError("enterprise records need their items (one list per row)")
            self.items.add(rows_arr.tolist(), items, new_items, item_vectors, handed_over=handed_over)
        keep = self.records.drop(index=rows_arr, errors="ignore")
        self.records = pd.concat([keep, new]).sort_index() if len(keep) else new.sort_index()
        self._substrings = None
        return len(frame) - replaced, replaced

    def delete(self, ids: Sequence[str]) -> int:
        """Remove records from records, FAISS and BM25.

        Args:
            ids: record ids; unknown ids raise MatcherError and nothing is removed.

        Returns:
            The number of records removed.
        """
        rows = self.rows_of(list(ids))
        self.dense.remove(rows)
        self.lexical.remove(rows)
        if self.items is not None:
            self.items.remove(rows.tolist())
        self.records = self.records.drop(index=rows)
        self._substrings = None
        for rid in ids:
            self._row_of.pop(rid, None)
        return len(rows)

    # ----------------------------------------------------------------- filters
    def filter_rows(self, filters: Mapping[str, str | Sequence[str]] | None) -> np.ndarray | None:
        """Row ids of the records that pass all filters (None when there is no filter).

        A filter maps a column to one value or a list of accepted values; a record passes when its
        cell contains any accepted value (so "新材料" accepts "新材料-膜材料", "技术许可" accepts
        "技术转让,技术许可").

        Raises:
            MatcherError: a filter names a column this kind of record does not have.
        """
        active = {c: ([v] if isinstance(v, str) else list(v)) for c, v in (filters or {}).items() if v}
        active = {c: [x for x in vals if str(x).strip()] for c, vals in active.items()}
        active = {c: vals for c, vals in active.items() if vals}
        if not active:
            return None
        mask = np.ones(len(self.records), dtype=bool)
        for column, values in active.items():
            if column not in self.schema.optional:
                raise MatcherError(
                    f"cannot filter {self.kind.value}s on '{column}': available columns are "
                    + ", ".join(self.schema.optional)
                )
            cells = self.records[column].astype(str)
            hit = np.zeros(len(cells), dtype=bool)
            for v in values:
                hit |= cells.str.contains(str(v), regex=False).to_numpy()
            mask &= hit
        return self.records.index.to_numpy(dtype=np.int64)[mask]

    # ----------------------------------------------------------------- persistence
    def manifest(self) -> Manifest:
        """Describe the collection as it is now."""
        return Manifest(
            kind=self.kind.value,
            model_id=self.model_id,
            dim=self.dim,
            rows=len(self),
            data_hash=data_hash(self.records["id"], self.records[CONTENT]),
            versions=current_versions(),
            built_at=utc_now(),
            params={
                "dense_backend": self.dense.active_backend or self.dense.backend,
                "vector_storage": self.dense.params.storage,
                "bm25_k1": self.lexical.k1,
                "bm25_b": self.lexical.b,
                "segmenter": self.segmenter_config,
                "next_row": self._next_row,
            },
        )

    @staticmethod
    def read_records(directory: str | Path) -> pd.DataFrame:
        """The records saved in a collection directory, indexed by row id, without loading any index.

        Raises:
            NotBuiltError: the directory holds no saved collection.
        """
        path = Path(directory) / RECORDS_FILE
        if not path.is_file():
            raise NotBuiltError(f"no saved records at {path}: run `matcher build` first")
        return read_parquet_whole(path).set_index("_row").rename_axis(None)

    def save(self, directory: str | Path) -> None:
        """Write records, both indexes and the manifest into `directory` (caller makes it atomic)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        out = self.records.copy()
        out.insert(0, "_row", out.index.to_numpy(dtype=np.int64))
        out.reset_index(drop=True).to_parquet(directory / RECORDS_FILE, index=False)
        self.dense.save(directory / "dense")
        self.lexical.save(directory / "bm25")
        if self.items is not None:
            self.items.save(directory / "items")
        write_manifest(directory, self.manifest())

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        model_id: str | None = None,
        dim: int | None = None,
        kind: Kind | str | None = None,
        segmenter: Mapping | None = None,
    ) -> Collection:
        """Load a saved collection, checking its manifest against the expected model, dimension, kind and segmenter
        settings (see `check_manifest`).

        Raises:
            MatcherError / IndexMismatchError: the index is missing, damaged or built differently.
        """
        directory = Path(directory)
        manifest = read_manifest(directory)
        check_manifest(manifest, model_id=model_id, dim=dim, kind=Kind(kind).value if kind else None, segmenter=segmenter)
        params = manifest.params
        coll = cls(
            manifest.kind,
            manifest.dim,
            manifest.model_id,
            bm25_k1=params.get("bm25_k1", 1.2),
            bm25_b=params.get("bm25_b", 0.75),
            segmenter_config=params.get("segmenter"),
        )
        try:
            records = read_parquet_whole(directory / RECORDS_FILE)
            coll.dense = DenseIndex.load(directory / "dense")
            coll.lexical = BM25Index.load(directory / "bm25")
            if coll.items is not None:
                coll.items = ItemIndex.load(directory / "items")
        except (OSError, ValueError) as exc:
            raise MatcherError(f"index at {directory} is damaged ({exc}): rebuild it with `matcher build`") from None
        coll.records = records.set_index(pd.Index(records.pop("_row").to_numpy(dtype=np.int64)))
        coll._row_of = dict(zip(coll.records["id"], coll.records.index.tolist()))
        coll._next_row = int(params.get("next_row", (coll.records.index.max() + 1) if len(records) else 0))
        sizes = {len(coll.records), len(coll.dense), len(coll.lexical)} | ({len(coll.items)} if coll.items is not None else set())
        if sizes != {manifest.rows}:
            raise MatcherError(
                f"index at {directory} is inconsistent (manifest {manifest.rows} rows, records {len(coll.records)}, "
                f"dense {len(coll.dense)}, bm25 {len(coll.lexical)}): rebuild it with `matcher build`"
            )
        return coll
