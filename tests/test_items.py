"""Scope items: splitting, the item index (shared items, upsert, delete, persistence) and best-item scores."""

from __future__ import annotations

import numpy as np

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
