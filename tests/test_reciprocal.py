"""The "reciprocal" signal of enterprise -> patent: where the enterprise stands in each candidate patent's own list."""

from __future__ import annotations

import math

import numpy as np
import pytest

from matcher.config import Direction, FusionConfig
from matcher.engine import Matcher, Query
from matcher.errors import MatcherError
from matcher.export import result_rows
from matcher.rank.reciprocal import ReciprocalRanks, ReciprocalScorer, list_rank
from matcher.schema import Kind
from matcher.workbench.frames import make_pairs, pair_frame

WEIGHTS = {"dense": 0.25, "bm25": 0.25, "items": 0.5, "portfolio": 1.0, "reciprocal": 1.0}


@pytest.fixture
def recip_config(config):
    assert config.fusion_for(Direction.ENTERPRISE_TO_PATENT).weights == WEIGHTS  # the default engine weights it
    return config


@pytest.fixture
def plain_config(config):
    fusion = dict(config.fusion)
    fusion[Direction.ENTERPRISE_TO_PATENT] = FusionConfig(method="rrf", weights={**WEIGHTS, "reciprocal": 0.0})
    return config.model_copy(update={"fusion": fusion})


def test_ranks_are_kept_per_target_and_survive_a_save(tmp_path):
    lists = [(0, np.array([2, 0])), (3, np.array([0, 1, 2]))]  # row 1 and 2 hold no record (deleted)
    ranks = ReciprocalRanks.from_lists(lists, (4, 3), "fp")
    rows, r = ranks.of_target(0)
    assert dict(zip(rows.tolist(), r.tolist())) == {0: 2, 3: 1}
    assert dict(zip(*(a.tolist() for a in ranks.of_target(2)))) == {0: 1, 3: 3}
    assert len(ranks.of_target(7)[0]) == 0  # a target row beyond the lists: nothing known
    ranks.save(tmp_path)
    back = ReciprocalRanks.load(tmp_path)
    assert back.fingerprint == "fp" and (back.ranks != ranks.ranks).nnz == 0
    assert ReciprocalRanks.load(tmp_path / "none") is None
    (tmp_path / ReciprocalRanks.FILE).write_bytes(b"not an npz")
    with pytest.raises(MatcherError, match="reciprocal.npz.*matcher build"):
        ReciprocalRanks.load(tmp_path)

    scorer = ReciprocalScorer(ranks, [2, None])
    assert scorer.candidates([0], 5)[0].tolist() == [0, 3]  # best rank first
    assert scorer.score(0, np.array([3, 0, 1, 9])).tolist() == [1 / 3, 1.0, 0.0, 0.0]
    assert all(math.isnan(v) for v in scorer.score(1, np.array([0, 3])))  # free text: no evidence
    assert scorer.candidates([1], 5)[0].size == 0


def test_an_enterprise_is_scored_by_its_rank_in_each_patents_list(matcher, recip_config):
    matcher.config = recip_config
    assert matcher.signals.uses_reciprocal()
    query = matcher.query_for(Kind.ENTERPRISE, "DEMO-D-002")
    res = matcher.search(query, Kind.PATENT, k=10)[0]
    for m in res.matches:
        own = [x.target_id for x in matcher.search(matcher.query_for(Kind.PATENT, m.target_id), Kind.ENTERPRISE,
                                                   k=recip_config.reciprocal_depth, explain=False)[0].matches]
        expected = 1.0 / (own.index("DEMO-D-002") + 1) if "DEMO-D-002" in own else 0.0
        assert m.components["reciprocal"] == pytest.approx(expected), m.target_id
    assert any(m.components["reciprocal"] > 0 for m in res.matches)
    # the export and the workbench table show the list position itself
    rows = result_rows("enterprise->patent", [res], {"DEMO-D-002": "需求"})
    frame = pair_frame(make_pairs(res, matcher.collection(Kind.ENTERPRISE).record("DEMO-D-002"), {}))
    expected = [list_rank(m.components["reciprocal"]) for m in res.matches]
    assert [r["reciprocal_rank"] for r in rows] == expected
    assert frame["互选排名"].tolist() == [r or "" for r in expected]
    assert all(r is None or 1.0 / r == pytest.approx(m.components["reciprocal"]) for r, m in zip(expected, res.matches))
    # pasted text has no list position: the signal abstains
    free = matcher.search(Query(text=query.text, kind=Kind.ENTERPRISE), Kind.PATENT, k=5, explain=False)[0]
    assert all(math.isnan(m.components["reciprocal"]) for m in free.matches)


def test_the_lists_are_saved_with_the_index_and_follow_changes(matcher, recip_config, plain_config, demo_enterprises, tmp_path):
    matcher.config = recip_config
    matcher.save(tmp_path / "with")
    assert (tmp_path / "with" / ReciprocalRanks.FILE).exists()
    loaded = Matcher.load(tmp_path / "with", recip_config)
    saved = loaded.signals._reciprocal
    assert saved is not None and loaded.signals.reciprocal is saved  # read, not ranked again
    # another patent -> enterprise setting makes the saved lists stale: they are ranked again
    other = dict(recip_config.fusion)
    other[Direction.PATENT_TO_ENTERPRISE] = FusionConfig(weights={"dense": 1.0})
    loaded.config = recip_config.model_copy(update={"fusion": other})
    assert loaded.signals.reciprocal is not saved
    # a new enterprise: its row appears in the lists
    loaded.config = recip_config
    new = demo_enterprises.iloc[[0]].assign(id="NEW-E-1", name="新企业")
    loaded.index(Kind.ENTERPRISE, new)
    row = int(loaded.collection(Kind.ENTERPRISE).rows_of(["NEW-E-1"])[0])
    assert len(loaded.signals.reciprocal.of_target(row)[0]) > 0
    # without the weight nothing is ranked or saved
    plain = Matcher.load(tmp_path / "with", plain_config)
    assert not plain.signals.uses_reciprocal()
    plain.save(tmp_path / "without")
    assert not (tmp_path / "without" / ReciprocalRanks.FILE).exists()


def test_ranked_rows_are_the_rows_search_ranks(matcher):
    """The reciprocal lists' rows-only ranking is `search`'s ranking, row for row, deep lists and ties included."""
    queries = [matcher.query_for(Kind.PATENT, i) for i in matcher.collection(Kind.PATENT).ids[:6]]
    queries.append(Query(text="锂电池 正极材料", exclude=(matcher.collection(Kind.ENTERPRISE).ids[0],)))
    depth = matcher.count(Kind.ENTERPRISE)
    found = matcher.ranked_rows(queries, Kind.ENTERPRISE, k=depth)
    coll = matcher.collection(Kind.ENTERPRISE)
    for rows, res in zip(found, matcher.search(queries, Kind.ENTERPRISE, k=depth, explain=False)):
        assert rows.tolist() == coll.rows_of([m.target_id for m in res.matches]).tolist()
    assert coll.rows_of([coll.ids[0]])[0] not in found[-1]
