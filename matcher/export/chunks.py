"""The nightly job's unit of work, a chunk of queries, and the executor that computes chunks (in-process by default)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from matcher.engine import Matcher, Query
from matcher.export.rows import NAME_COL, result_rows
from matcher.index.collection import CONTENT
from matcher.schema import Direction


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of one direction's queries, everything a worker needs besides the index (picklable).

    Attributes:
        direction: the direction's value ("enterprise->patent" ...).
        number: the chunk's position in the direction (names its part).
        query_ids: the stored records asked, in export order.
        k: matches per query.
        filters: filters on the ranked side (None: none).
        explain: attach explanations (False under an exposure cap: the kept pairs are explained later).
        exclude: query id -> target ids its list leaves out (only the queries that leave some out).
    """

    direction: str
    number: int
    query_ids: tuple[str, ...]
    k: int
    filters: Mapping[str, Sequence[str]] | None = None
    explain: bool = True
    exclude: Mapping[str, tuple[str, ...]] | None = None


ChunkFunction = Callable[[Matcher, ChunkTask], pd.DataFrame]


def compute_chunk(matcher: Matcher, task: ChunkTask) -> pd.DataFrame:
    """Rank one chunk's queries and flatten them into export rows.

    Args:
        matcher: the loaded index (the driver's, or a worker's own copy of the same index).
        task: the chunk.

    Returns:
        The chunk's export rows (queries in task order, each query's matches by rank).
    """
    direction = Direction(task.direction)
    source, target = direction.source, direction.target
    coll = matcher.get(source)
    records = coll.records.loc[coll.rows_of(list(task.query_ids))]
    texts = dict(zip(records["id"], records[CONTENT]))
    names = dict(zip(records["id"], records[NAME_COL[source]]))
    exclude = task.exclude or {}
    queries = [Query(text=texts[i], kind=source, id=i, exclude=exclude.get(i, ())) for i in task.query_ids]
    results = matcher.search(queries, target, k=task.k, filters=task.filters, explain=task.explain)
    return pd.DataFrame(result_rows(direction, results, names))


class ChunkExecutor(Protocol):
    """Computes chunks: `map(fn, tasks)` yields (task, fn(matcher, task)) for every task, in any order."""

    def map(self, fn: ChunkFunction, tasks: Sequence[ChunkTask]) -> Iterator[tuple[ChunkTask, pd.DataFrame]]: ...


class LocalExecutor:
    """The default executor: every chunk in this process, one after the other, on the driver's loaded index.

    Args:
        matcher: the loaded index.
    """

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher

    def map(self, fn: ChunkFunction, tasks: Iterable[ChunkTask]) -> Iterator[tuple[ChunkTask, pd.DataFrame]]:
        """Compute the chunks in order.

        Args:
            fn: the chunk function (`compute_chunk`).
            tasks: the chunks.

        Returns:
            An iterator of (task, its rows).
        """
        for task in tasks:
            yield task, fn(self.matcher, task)
