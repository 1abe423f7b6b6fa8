"""The exposure cap of batch lists (matcher.rank.exposure.cap_exposure) on hand-made candidate lists."""

from __future__ import annotations

import pandas as pd
import pytest

from matcher.rank.exposure import cap_exposure


def _lists(rows: dict[str, list[tuple[str, float]]]) -> pd.DataFrame:
    """Ranked candidates per query: {query: [(target, score), ...]} in rank order."""
    return pd.DataFrame(
        [{"direction": "patent->enterprise", "query_id": q, "rank": r, "target_id": t, "score": s}
         for q, cands in rows.items() for r, (t, s) in enumerate(cands, start=1)]
    )


def test_rank_rounds_then_scores_decide_who_keeps_a_capped_target():
    frame = _lists({
        "P1": [("BIG", 3.0), ("U", 2.0), ("V", 1.0)],
        "P2": [("BIG", 5.0), ("W", 1.0), ("X", 0.5)],
        "P3": [("BIG", 2.0), ("U", 1.5), ("Y", 1.0)],
    })
    out, stats = cap_exposure(frame, k=2, max_per_target=1)
    lists = out.groupby("query_id", sort=False)["target_id"].apply(list).to_dict()
    # BIG goes to P2, whose pair with it scores highest among the rank-1 pairs; U is the 2nd choice of P1 and
    # P3, and P1's pair scores higher; P3 falls back to its 3rd candidate and has nothing more to take
    assert lists == {"P1": ["U", "V"], "P2": ["BIG", "W"], "P3": ["Y"]}
    assert list(out["query_id"].unique()) == ["P1", "P2", "P3"]  # the batch's own query order
    assert out["rank"].tolist() == [1, 2, 1, 2, 1]
    assert out["engine_rank"].tolist() == [2, 3, 1, 2, 3]
    assert list(out.columns) == ["direction", "query_id", "rank", "engine_rank", "target_id", "score"]
    assert out["target_id"].value_counts().max() == 1
    assert (stats.queries, stats.kept, stats.moved, stats.short) == (3, 5, 2, 1)
    assert (stats.max_lists_before, stats.distinct_before, stats.distinct_after) == (3, 3, 5)
    assert "5 pairs, 2 of them from below the engine's top k" in stats.describe()


def test_a_cap_no_list_reaches_changes_nothing():
    frame = _lists({"P1": [("A", 2.0), ("B", 1.0), ("C", 0.1)], "P2": [("B", 3.0), ("A", 2.0), ("D", 1.0)]})
    out, stats = cap_exposure(frame, k=2, max_per_target=2)
    expected = frame[frame["rank"] <= 2].reset_index(drop=True)
    assert out.drop(columns="engine_rank").equals(expected)
    assert (out["engine_rank"] == out["rank"]).all() and stats.moved == 0 and stats.short == 0


def test_bad_arguments_are_refused_and_an_empty_batch_passes_through():
    frame = _lists({"P1": [("A", 1.0)]})
    with pytest.raises(ValueError, match="at least 1"):
        cap_exposure(frame, k=10, max_per_target=0)
    with pytest.raises(ValueError, match="score"):
        cap_exposure(frame.drop(columns="score"), k=10, max_per_target=5)
    out, stats = cap_exposure(frame.iloc[:0], k=10, max_per_target=5)
    assert out.empty and "engine_rank" in out.columns and stats.kept == 0
