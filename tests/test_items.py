"""Scope items: splitting, the item index (shared items, upsert, delete, persistence) and best-item scores."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.index.items import ItemIndex
from matcher.text.items import split_items


def test_split_items_of_a_business_scope():
    scope = "经营范围：程控交换机、传输设备；数据通信设备的开发、生产、销售（依法须经批准的项目，经相关部门批准后方可开展经营活动）"
    items = split_items(scope)
    assert items[:3] == ["程控交换机", "传输设备", "数据通信设备的开发"]
    assert "生产" in items and not any("依法" in i or "经营范围" in i for i in items)
    assert split_items("") == [] and split_items("、；") == []
    assert split_items("技术开发、技术开发、销售") == ["技术开发", "销售"]


def _unit(rng, n, d=16):
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_item_index_shares_items_and_scores_best_items(tmp_path):
    rng = np.random.default_rng(0)
    texts = ["电池", "电机", "软件", "技术开发"]
    vecs = dict(zip(texts, _unit(rng, 4)))
    index = ItemIndex(16, top_m=2)
    items = [["电池", "技术开发"], ["软件", "技术开发"], ["电机"]]
    assert index.missing(items) == sorted(texts)
    index.add([0, 1, 2], items, vecs)
    assert len(index) == 3 and len(index.dense) == 4  # "技术开发" stored once
    q = vecs["电池"]
    scores = index.score(q, np.array([0, 1, 2]))
    assert np.isclose(scores[0], (1.0 + float(vecs["技术开发"] @ q)) / 2)
    assert scores[0] == scores.max()
    assert index.search(q[None, :], 1)[0].tolist() == [0]

    # replacing a row's items drops the orphaned item; deleting drops its items
    index.add([0], [["软件"]], {})
    assert "电池" not in index.missing([["软件"]]) and index.missing([["电池"]]) == ["电池"]
    assert len(index.dense) == 3
    index.remove([1])
    assert index.items_of(0) == ["软件"] and len(index) == 2 and len(index.dense) == 2

    index.save(tmp_path / "items")
    again = ItemIndex.load(tmp_path / "items")
    assert again.items_of(0) == ["软件"] and again.items_of(2) == ["电机"]
    np.testing.assert_allclose(again.score(q, np.array([0, 2])), index.score(q, np.array([0, 2])))


def test_item_scores_follow_changes_of_the_rows_items():
    """Best-item scores read every row's items from a flat table that is rebuilt after each add / remove."""
    rng = np.random.default_rng(0)
    texts = [f"条目{i}" for i in range(40)]
    vectors = {t: (v / np.linalg.norm(v)).astype(np.float32) for t, v in zip(texts, rng.standard_normal((40, 8)))}
    index = ItemIndex(8, top_m=2)
    index.add([0, 2, 5], [texts[:3], [], texts[3:9]], vectors)
    query = vectors[texts[4]]

    def expected(rows):
        out = []
        for r in rows:
            sims = sorted((float(vectors[t] @ query) for t in index.items_of(r)), reverse=True)[:2]
            out.append(sum(sims) / len(sims) if sims else 0.0)
        return out

    rows = np.array([5, 0, 2, 9, 1, 5])
    assert index.score(query, rows) == pytest.approx(expected(rows), abs=1e-6)
    assert index.score(query, rows)[0] > index.score(query, rows)[1]  # row 5 holds the query's own item
    index.remove([5])
    index.add([9], [texts[4:6]], vectors)
    assert index.score(query, rows) == pytest.approx(expected(rows), abs=1e-6)
    assert index.score(query, rows)[[0, 2, 4]].tolist() == [0.0, 0.0, 0.0] and index.score(query, rows)[3] > 0.5


def test_query_items_find_the_same_candidates_in_one_batch_as_one_by_one():
    """Enterprise -> patent: the items of a whole batch of queries are searched at once, each item's list cut to its
    query's depth (size // items, at least 10); every query gets the candidates it gets alone."""
    from matcher.index.dense.index import DenseIndex
    from matcher.rank.scorers import QueryItemScorer

    rng = np.random.default_rng(3)
    patents = DenseIndex(16)
    patents.add(np.arange(500), _unit(rng, 500))
    item_vectors = [_unit(rng, n) for n in (1, 0, 7, 3, 40)]  # one item, none, several, more items than size // 10
    scorer = QueryItemScorer(patents, item_vectors)
    for size in (10, 60, 200):
        together = scorer.candidates(range(len(item_vectors)), size)
        for q, found in enumerate(together):
            alone = scorer.candidates([q], size)[0]
            depth = max(size // len(item_vectors[q]), 10) if len(item_vectors[q]) else 0
            expected = np.unique(patents.search(item_vectors[q], depth)[1]) if depth else np.empty(0)
            assert found.dtype == np.int64 and found.tolist() == alone.tolist() == expected.tolist(), (size, q)
