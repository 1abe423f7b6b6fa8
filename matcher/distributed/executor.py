"""The nightly job's chunks computed by Ray actors, each holding its own copy of the index loaded from its folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from matcher.config import MatcherConfig
from matcher.distributed.cluster import connect, worker_count
from matcher.engine import Matcher
from matcher.errors import MatcherError


class IndexWorker:
    """A Ray actor's state: the index loaded once from a folder every node can read.

    Args:
        index_dir: the index folder (a shared filesystem path on a cluster).
        config: the settings the driver applied over the saved ones (None: the saved configuration).
        data_hashes: kind -> the records' data hash the driver ranked: a worker that loads another index (swapped
            by a writer meanwhile) refuses to compute rows for it.
    """

    def __init__(self, index_dir: str, config: MatcherConfig | None, data_hashes: dict[str, str]) -> None:
        self.matcher = Matcher.load(index_dir, config)
        found = {k.value: self.matcher.get(k).manifest().data_hash for k in self.matcher.kinds}
        if found != data_hashes:
            raise MatcherError(f"the index at {index_dir} changed while the nightly job ran; run `matcher match` again")

    def run(self, fn: Callable[[Matcher, Any], pd.DataFrame], task: Any) -> tuple[Any, pd.DataFrame]:
        """`fn(matcher, task)`, returned with its task."""
        return task, fn(self.matcher, task)


class RayExecutor:
    """Computes the nightly job's chunks on Ray actors (`matcher.export.chunks.ChunkExecutor`).

    Each actor loads the index from `index_dir` (`Matcher.load`) and returns a chunk's rows; the driver writes the
    parts and the export as it does without Ray.

    Args:
        index_dir: the index folder; on a cluster a shared filesystem path every worker reads at the same place.
        config: settings applied over the saved ones, as the driver applied them (None: the saved configuration).
        data_hashes: kind -> data hash of the index the driver loaded (`matcher.export.index_info`).
        address: the Ray cluster's address (None: a local instance, `matcher.distributed.cluster.connect`).
        actors: how many actors (default: one per CPU of the cluster).
    """

    def __init__(self, index_dir: str | Path, config: MatcherConfig | None, data_hashes: dict[str, str], *,
                 address: str | None = None, actors: int | None = None) -> None:
        self.index_dir = str(Path(index_dir).resolve())
        self.config = config
        self.data_hashes = dict(data_hashes)
        self.address = address
        self.actors = actors

    def map(self, fn: Callable[[Matcher, Any], pd.DataFrame], tasks: Sequence[Any]) -> Iterator[tuple[Any, pd.DataFrame]]:
        """Compute every task on the actors, yielding (task, rows) as each finishes.

        Args:
            fn: the chunk function (a module-level function: Ray ships it by reference).
            tasks: the chunks.

        Returns:
            An iterator of (task, its rows), in the order they finish.

        Raises:
            MatcherError: Ray cannot start, or a worker failed (its error is named).
        """
        if not tasks:
            return
        ray = connect(self.address)
        from ray.util import ActorPool

        n = min(self.actors or worker_count(ray), len(tasks))
        worker = ray.remote(num_cpus=1)(IndexWorker)
        actors = [worker.remote(self.index_dir, self.config, self.data_hashes) for _ in range(n)]
        pool = ActorPool(actors)
        try:
            yield from pool.map_unordered(lambda actor, task: actor.run.remote(fn, task), list(tasks))
        except ray.exceptions.RayError as exc:
            cause = getattr(exc, "cause", None)
            raise MatcherError(f"a Ray worker failed: {cause or exc}") from None
        finally:
            for actor in actors:
                ray.kill(actor)
