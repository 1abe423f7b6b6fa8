"""Exposure caps for batch lists: at most N lists per target, so one large firm is not pushed every patent.

Ranking each query on its own lets a few targets fill most lists: on the shared index (4,097 patents -> 21,956
enterprises and demands) one enterprise sits in the top 10 of 839 patents' lists with the default engine and in
over 1,000 with the activity prior (docs/signals.md, "Exposure caps"). An office cannot push 800 patents to one company,
and the slots it takes are the ones smaller enterprises and demands would have had. `cap_exposure` re-assigns the
slots of a whole batch under a per-target cap.

The assignment is greedy in rank rounds: every query's 1st choice is considered before any query's 2nd, and
within a round the higher-scoring pair goes first. A pair is kept while its query has fewer than k matches and
its target fewer than `max_per_target` lists; otherwise the query moves on to its next candidate. So each list
keeps as many of its own best candidates as the cap allows, and a target's capacity goes to the lists that rank
it highest, with the most confident pairs first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

KEY_COLUMNS = ["query_id", "rank", "target_id", "score"]  # what the cap is decided on


@dataclass(frozen=True)
class ExposureStats:
    """What a cap changed in one batch direction.

    Attributes:
        queries: lists in the batch.
        kept: pairs in the capped lists.
        moved: pairs in the capped lists that were not in the uncapped top k (slots given to other targets).
        short: lists with fewer than k pairs because their deeper candidates were all capped.
        max_lists_before: the most lists one target was in before the cap (uncapped top k).
        distinct_before: distinct targets in the uncapped top k.
        distinct_after: distinct targets after the cap.
    """

    queries: int
    kept: int
    moved: int
    short: int
    max_lists_before: int
    distinct_before: int
    distinct_after: int

    def describe(self) -> str:
        """One line for the run manifest."""
        return (f"{self.kept:,} pairs, {self.moved:,} of them from below the engine's top k; distinct targets "
                f"{self.distinct_before:,} -> {self.distinct_after:,}; the most lists of one target was "
                f"{self.max_lists_before:,}; {self.short:,} of {self.queries:,} lists are shorter than k")


def cap_exposure(frame: pd.DataFrame, k: int, max_per_target: int) -> tuple[pd.DataFrame, ExposureStats]:
    """Re-assign a batch's lists so no target is in more than `max_per_target` of them.

    Args:
        frame: candidate pairs, ranked deeper than k per query: columns query_id, rank (1-based within the query),
            target_id, score, plus any others (kept as they are).
        k: matches per query in the result.
        max_per_target: the most lists a target may appear in (at least 1).

    Returns:
        (the capped pairs, in the batch's query order and by new rank, with `rank` renumbered 1..k within each query and
        `engine_rank` the pair's rank before the cap; what the cap changed).

    Raises:
        ValueError: max_per_target or k below 1, or a required column missing.
    """
    if max_per_target < 1 or k < 1:
        raise ValueError(f"k ({k}) and max_per_target ({max_per_target}) must be at least 1")
    missing = [c for c in KEY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"cap_exposure needs the columns {missing}")
    empty = ExposureStats(0, 0, 0, 0, 0, 0, 0)
    if frame.empty:
        return frame.assign(engine_rank=frame["rank"]), empty
    queries = frame["query_id"].to_numpy()
    targets = frame["target_id"].to_numpy()
    ranks = frame["rank"].to_numpy()
    # rank rounds first, then the more confident pair; the query and target ids make ties deterministic
    order = np.lexsort((targets.astype(str), queries.astype(str), -frame["score"].to_numpy(dtype=np.float64), ranks))
    picked_per_query: dict = {}
    lists_per_target: dict = {}
    keep = np.zeros(len(frame), dtype=bool)
    for i in order:
        q, t = queries[i], targets[i]
        if picked_per_query.get(q, 0) < k and lists_per_target.get(t, 0) < max_per_target:
            keep[i] = True
            picked_per_query[q] = picked_per_query.get(q, 0) + 1
            lists_per_target[t] = lists_per_target.get(t, 0) + 1
    position = pd.factorize(frame["query_id"])[0]  # the batch's own query order
    out = frame[keep].rename(columns={"rank": "engine_rank"})
    out = out.iloc[np.lexsort((out["engine_rank"].to_numpy(), position[keep]))]
    out.insert(list(frame.columns).index("rank"), "rank", out.groupby("query_id", sort=False).cumcount() + 1)
    before = frame[frame["rank"] <= k]
    n_queries = frame["query_id"].nunique()
    stats = ExposureStats(
        queries=n_queries,
        kept=len(out),
        moved=int((out["engine_rank"] > k).sum()),
        short=int(n_queries - (out.groupby("query_id").size() >= k).sum()),
        max_lists_before=int(before["target_id"].value_counts().max()) if len(before) else 0,
        distinct_before=int(before["target_id"].nunique()),
        distinct_after=int(out["target_id"].nunique()),
    )
    return out.reset_index(drop=True), stats
