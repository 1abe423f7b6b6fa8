"""On-disk embedding cache (SQLite) so re-runs embed only new or changed texts."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from matcher.encode.base import Encoder, check_texts
from matcher.encode.ensemble import EnsembleEncoder
from matcher.errors import MatcherError

CACHE_FILE = "embeddings.sqlite"
"""Name of the SQLite file inside the cache directory."""

# Bound parameters per SELECT ... IN (...): below SQLite's historical 999-variable limit.
_LOOKUP_CHUNK = 900

_PAGE_SIZE = 16384

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model_id  TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector    BLOB NOT NULL,
    PRIMARY KEY (model_id, text_hash)
)
"""


def text_hash(text: str) -> str:
    """Cache key of a text: SHA-1 of its exact UTF-8 bytes.

    Args:
        text: the text as it is passed to the encoder.

    Returns:
        40 hex digits.
    """
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class CacheStats:
    """Counts of distinct texts per encode() call, summed over the encoder's lifetime.

    Attributes:
        hits: texts whose vector came from the cache.
        misses: texts that were encoded (and stored).
    """

    hits: int = 0
    misses: int = 0


class CachedEncoder:
    """An Encoder that stores every vector in SQLite, keyed by (model_id, SHA-1 of the text).

    Texts already in the cache for the inner encoder's `model_id` are not encoded again, and a
    text repeated within one call is encoded once. New vectors are committed in chunks of
    `commit_every` texts, so an interrupted run keeps every chunk it finished. The database uses
    WAL journaling and may be shared by several processes.

    Args:
        inner: the encoder that computes missing vectors.
        cache_dir: directory of the cache (created if missing); the vectors go to
            `<cache_dir>/embeddings.sqlite`.
        commit_every: texts encoded and committed per transaction.

    Raises:
        MatcherError: the cache directory cannot be created, the file is not a usable database, or
            it holds vectors of another dimension for this model_id.
    """

    def __init__(self, inner: Encoder, cache_dir: str | os.PathLike[str], *, commit_every: int = 256) -> None:
        self.inner = inner
        self.model_id: str = inner.model_id
        self.dim: int = int(inner.dim)
        self.cache_dir = Path(cache_dir).expanduser()
        self.path = self.cache_dir / CACHE_FILE
        self.commit_every = max(1, int(commit_every))
        self.stats = CacheStats()
        self._lock = threading.Lock()
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MatcherError(f"cannot create the embedding cache directory {self.cache_dir}: {exc}") from exc
        self._conn: sqlite3.Connection | None = self._open()
        self._check_dimension()

    # ---- database ----
    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=60.0, check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._broken(exc) from exc
        try:
            # Takes effect only when the file is new: 16 KiB pages hold seven 2 KiB vectors, where
            # the default 4 KiB pages would hold one each and waste half the file.
            conn.execute(f"PRAGMA page_size={_PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            conn.commit()
        except sqlite3.Error as exc:
            conn.close()
            raise self._broken(exc) from exc
        return conn

    def _broken(self, exc: Exception) -> MatcherError:
        return MatcherError(
            f"the embedding cache {self.path} cannot be used ({exc}); "
            f"delete the cache directory {self.cache_dir} and run again"
        )

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise MatcherError("this CachedEncoder has been closed")
        return self._conn

    def _check_dimension(self) -> None:
        """Fail early when the cache holds vectors of another size for this model_id."""
        try:
            row = self._db.execute(
                "SELECT length(vector) FROM embeddings WHERE model_id = ? LIMIT 1", (self.model_id,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._broken(exc) from exc
        if row is not None:
            self._check_blob_size(int(row[0]))

    def _check_blob_size(self, size: int) -> None:
        if size != self.dim * 4:
            raise MatcherError(
                f"the embedding cache {self.path} holds {size // 4}-d vectors for model '{self.model_id}', "
                f"but the encoder produces {self.dim}-d vectors; delete the cache directory "
                f"{self.cache_dir} and run again"
            )

    def _fetch_into(self, hashes: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """Copy the stored vectors of these text hashes into `vectors`.

        Args:
            hashes: distinct text hashes.
            vectors: float32 (len(hashes), dim), row i receives the vector of hashes[i] when cached.

        Returns:
            Boolean mask of the rows that were found in the cache.
        """
        row_of = {key: row for row, key in enumerate(hashes)}
        found = np.zeros(len(hashes), dtype=bool)
        db = self._db
        try:
            for start in range(0, len(hashes), _LOOKUP_CHUNK):
                chunk = hashes[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                cursor = db.execute(
                    f"SELECT text_hash, vector FROM embeddings WHERE model_id = ? AND text_hash IN ({marks})",
                    (self.model_id, *chunk),
                )
                for key, blob in cursor:
                    if len(blob) != self.dim * 4:
                        self._check_blob_size(len(blob))
                    row = row_of[key]
                    vectors[row] = np.frombuffer(blob, dtype=np.float32)
                    found[row] = True
        except sqlite3.Error as exc:
            raise self._broken(exc) from exc
        return found

    def _store(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Insert vectors in one transaction.

        Args:
            hashes: text hashes, one per row of `vectors`.
            vectors: float32 (len(hashes), dim).
        """
        rows = [(self.model_id, key, vector.tobytes()) for key, vector in zip(hashes, vectors)]
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", rows)
        except sqlite3.Error as exc:
            raise self._broken(exc) from exc

    # ---- Encoder ----
    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """Embed texts, reading cached vectors and encoding (then storing) only the others.

        Args:
            texts: the texts, in order.
            batch_size: passed to the inner encoder.
            show_progress: show a progress bar over the texts that need encoding.

        Returns:
            float32 array (len(texts), dim), rows L2-normalised; shape (0, dim) for no texts.

        Raises:
            MatcherError: a text is not a string, or the cache is unusable (wrong dimension, corrupt).
        """
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(items, batch_size=batch_size, show_progress=show_progress)

    def _encode(self, items: list[str], *, batch_size: int, show_progress: bool) -> np.ndarray:
        slot: dict[str, int] = {}  # text hash -> row in `unique`
        unique: list[str] = []
        inverse = np.empty(len(items), dtype=np.int64)
        for position, text in enumerate(items):
            key = text_hash(text)
            row = slot.get(key)
            if row is None:
                row = slot[key] = len(unique)
                unique.append(text)
            inverse[position] = row
        hashes = list(slot)

        vectors = np.empty((len(unique), self.dim), dtype=np.float32)
        with self._lock:  # the lock guards the database only: one session's long encode never blocks another's
            found = self._fetch_into(hashes, vectors)
        # length-sorted (stable), so that each model batch pads its texts to similar lengths
        missing: list[int] = sorted(np.flatnonzero(~found).tolist(), key=lambda row: len(unique[row]))
        self.stats.hits += len(unique) - len(missing)

        if missing:
            self._encode_missing(unique, hashes, missing, vectors, batch_size=batch_size, show_progress=show_progress)
        return vectors if len(unique) == len(items) else vectors[inverse]  # distinct texts need no second copy

    def _encode_missing(
        self,
        unique: list[str],
        hashes: list[str],
        missing: list[int],
        vectors: np.ndarray,
        *,
        batch_size: int,
        show_progress: bool,
    ) -> None:
        """Encode the missing texts chunk by chunk, committing each chunk, and fill `vectors`.

        Args:
            unique: distinct texts of the call.
            hashes: their hashes.
            missing: rows of `unique` that are not cached.
            vectors: (len(unique), dim) output, filled in place.
            batch_size: passed to the inner encoder.
            show_progress: show a progress bar.
        """
        bar = None
        if show_progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(missing), desc=f"encoding ({self.model_id})", unit="text")
        try:
            for start in range(0, len(missing), self.commit_every):
                rows = missing[start : start + self.commit_every]
                fresh = np.asarray(
                    self.inner.encode([unique[row] for row in rows], batch_size=batch_size),
                    dtype=np.float32,
                )
                if fresh.shape != (len(rows), self.dim):
                    raise MatcherError(
                        f"encoder {self.model_id} returned shape {fresh.shape} for {len(rows)} texts, "
                        f"expected ({len(rows)}, {self.dim})"
                    )
                with self._lock:
                    self._store([hashes[row] for row in rows], fresh)
                vectors[rows] = fresh
                self.stats.misses += len(rows)
                if bar is not None:
                    bar.update(len(rows))
        finally:
            if bar is not None:
                bar.close()

    # ---- housekeeping ----
    def cached_count(self) -> int:
        """Number of vectors stored for this encoder's model_id.

        Returns:
            The row count.
        """
        with self._lock:
            return int(
                self._db.execute("SELECT COUNT(*) FROM embeddings WHERE model_id = ?", (self.model_id,)).fetchone()[0]
            )

    def close(self) -> None:
        """Close the database connection (committed vectors are already on disk)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> CachedEncoder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass

    def __repr__(self) -> str:
        return f"CachedEncoder(model_id={self.model_id!r}, dim={self.dim}, path={str(self.path)!r}, stats={self.stats})"


def with_cache(encoder: Encoder, cache_dir: str | os.PathLike[str]) -> Encoder:
    """The encoder with its vectors cached on disk; an ensemble caches each part under the part's own id.

    Caching the parts (not the concatenation) lets an ensemble reuse every vector its parts computed
    before, e.g. the USE-m3 vectors of an index built without the ensemble.

    Args:
        encoder: any Encoder (returned unchanged when it, or every part of an ensemble, is already cached).
        cache_dir: the cache directory.

    Returns:
        The cached encoder.
    """
    if isinstance(encoder, CachedEncoder):
        return encoder
    if isinstance(encoder, EnsembleEncoder):
        if all(isinstance(part, CachedEncoder) for part, _ in encoder.parts):
            return encoder
        return encoder.map_parts(lambda part: with_cache(part, cache_dir))
    return CachedEncoder(encoder, cache_dir)
