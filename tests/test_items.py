"""Scope items: splitting, the item index (shared items, upsert, delete, persistence) and best-item scores."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from matcher.errors import MatcherError
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


def _add(index, rows, items, vectors):
    """`ItemIndex.add` with the new items' vectors taken from a text -> vector dict."""
    index.add(rows, items, list(vectors), np.stack(list(vectors.values())) if vectors else None)


def test_item_index_shares_items_and_scores_best_items(tmp_path):
    rng = np.random.default_rng(0)
    texts = ["电池", "电机", "软件", "技术开发"]
    vecs = dict(zip(texts, _unit(rng, 4)))
    index = ItemIndex(16, top_m=2)
    items = [["电池", "技术开发"], ["软件", "技术开发"], ["电机"]]
    assert index.missing(items) == ["电池", "技术开发", "软件", "电机"]  # in the order they are stored
    _add(index, [0, 1, 2], items, vecs)
    assert len(index) == 3 and len(index.dense) == 4  # "技术开发" stored once
    q = vecs["电池"]
    scores = index.score(q, np.array([0, 1, 2]))
    assert np.isclose(scores[0], (1.0 + float(vecs["技术开发"] @ q)) / 2)
    assert scores[0] == scores.max()
    assert index.search(q[None, :], 1)[0].tolist() == [0]

    # replacing a row's items drops the orphaned item; deleting drops its items
    _add(index, [0], [["软件"]], {})
    assert "电池" not in index.missing([["软件"]]) and index.missing([["电池"]]) == ["电池"]
    assert len(index.dense) == 3
    index.remove([1])
    assert index.items_of(0) == ["软件"] and len(index) == 2 and len(index.dense) == 2

    index.save(tmp_path / "items")
    again = ItemIndex.load(tmp_path / "items")
    assert again.items_of(0) == ["软件"] and again.items_of(2) == ["电机"]
    np.testing.assert_allclose(again.score(q, np.array([0, 2])), index.score(q, np.array([0, 2])))
    # items.json is written row by row: the same text as the whole payload given to json.dumps
    payload = {"dim": 16, "top_m": 2, "next_item": index._next_item,
               "items": {str(i): t for i, t in index._texts.items()},
               "rows": {str(r): index._items_of_row[r].tolist() for r in sorted(index._items_of_row)}}
    assert (tmp_path / "items" / "items.json").read_text(encoding="utf-8") == json.dumps(payload, ensure_ascii=False)
    empty = ItemIndex(16)
    empty.save(tmp_path / "empty")
    assert len(ItemIndex.load(tmp_path / "empty")) == 0


def test_item_search_proposes_each_items_rows_in_row_order_and_items_live_while_a_row_lists_them(tmp_path):
    rng = np.random.default_rng(1)
    texts = ["技术开发", "电池", "电机", "软件"]
    vectors = dict(zip(texts, _unit(rng, 4)))
    index = ItemIndex(16)
    _add(index, [7, 3, 9, 1], [["技术开发", "电池"], ["技术开发"], ["电机", "技术开发"], ["技术开发", "技术开发"]], vectors)
    query = vectors["技术开发"][None, :]
    assert index.search(query, 3)[0].tolist() == [1, 3, 7]  # the rows of the best item, lowest first, cut at 3
    assert index.search(query, 10)[0].tolist()[:4] == [1, 3, 7, 9]
    # in one change, row 7 lets go of "电池" and row 3 takes it up: it stays, with its vector
    _add(index, [7, 3], [["软件"], ["电池"]], vectors)
    assert index.items_of(3) == ["电池"] and index.missing([["电池"]]) == [] and len(index.dense) == 4
    assert index.search(vectors["电池"][None, :], 1)[0].tolist() == [3]
    # dropped only when no row lists it any more; a row listing an item twice counts once
    index.remove([1, 9])
    assert index.missing([["技术开发", "电机"]]) == ["技术开发", "电机"] and len(index.dense) == 2
    index.save(tmp_path / "items")
    again = ItemIndex.load(tmp_path / "items")
    for text in ("电池", "软件"):
        q = vectors[text][None, :]
        assert again.search(q, 5)[0].tolist() == index.search(q, 5)[0].tolist()
    again.remove([3])
    assert again.missing([["电池"]]) == ["电池"] and len(again.dense) == 1


def test_new_items_in_the_order_missing_gives_are_stored_without_a_copy():
    """A build hands the scope items' vectors over in `missing`'s order: the new index keeps that array as its rows
    (at 200,000 registrations about 2 GB) and answers as an index given the same vectors in any order."""
    rng = np.random.default_rng(3)
    texts = [f"条目{i}" for i in range(30)]
    items = [list(rng.choice(texts, size=int(rng.integers(0, 6)), replace=False)) for _ in range(40)]
    handed, copied = ItemIndex(16, top_m=2), ItemIndex(16, top_m=2)
    new = handed.missing(items)
    vectors = _unit(rng, len(new))
    handed.add(range(40), items, new, vectors, handed_over=True)
    copied.add(range(40), items, new[::-1], vectors[::-1].copy())
    assert np.shares_memory(handed.dense._store._vecs, vectors)
    for q in _unit(rng, 5):
        assert handed.search(q[None, :], 8)[0].tolist() == copied.search(q[None, :], 8)[0].tolist()
        np.testing.assert_array_equal(handed.score(q, np.arange(42)), copied.score(q, np.arange(42)))
    with pytest.raises(MatcherError, match="no vector given for 1 new item"):
        ItemIndex(16).add([0], [["电池", "电机"]], ["电池"], _unit(rng, 1))


def test_item_scores_follow_changes_of_the_rows_items():
    """Best-item scores read every row's items from a flat table that is rebuilt after each add / remove."""
    rng = np.random.default_rng(0)
    texts = [f"条目{i}" for i in range(40)]
    vectors = {t: (v / np.linalg.norm(v)).astype(np.float32) for t, v in zip(texts, rng.standard_normal((40, 8)))}
    index = ItemIndex(8, top_m=2)
    _add(index, [0, 2, 5], [texts[:3], [], texts[3:9]], vectors)
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
    _add(index, [9], [texts[4:6]], vectors)
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


@pytest.mark.parametrize("storage", ["float32", "float16"])
def test_record_items_score_the_same_in_any_batch_as_alone(storage, monkeypatch):
    """Patent -> enterprise: a deep list's candidates' items are scored from one matrix product per block of
    queries; every query's scores equal the ones it gets alone, bit for bit, whatever the batch and the block
    position (the sums are taken in float64), and match the float32 definition to 1e-6. A short list is scored
    by `ItemIndex.score` as before."""
    import matcher.rank.scorers as scorers
    from matcher.rank.scorers import RecordItemScorer

    rng = np.random.default_rng(5)
    dim, n_rows = 96, 300
    texts = [f"条目{i}" for i in range(900)]
    vectors = dict(zip(texts, _unit(rng, len(texts), dim)))
    index = ItemIndex(dim, top_m=3, storage=storage)
    _add(index, range(n_rows), [list(rng.choice(texts, size=rng.integers(0, 9), replace=False)) for _ in range(n_rows)],
              vectors)
    queries = _unit(rng, 150, dim)
    rows = rng.permutation(n_rows + 5)  # every row, and some without items or beyond the index

    alone = [RecordItemScorer(index, queries[q : q + 1], top_m=3).score(0, rows) for q in range(len(queries))]
    made = []
    real_table = index.table
    monkeypatch.setattr(index, "table", lambda block: made.append(len(block)) or real_table(block))
    whole = RecordItemScorer(index, queries, top_m=3)
    for q in rng.permutation(len(queries)):  # blocks computed out of order, some twice
        assert np.array_equal(whole.score(q, rows), alone[q]), q
    assert made and max(made) == scorers.TABLE_BLOCK  # the batch was scored from tables
    shifted = RecordItemScorer(index, queries[37:], top_m=3)  # other blocks, other positions in them
    for q in range(0, len(queries) - 37, 7):
        assert np.array_equal(shifted.score(q, rows), alone[q + 37]), q

    few = rows[: len(rows) // (2 * scorers.TABLE_SHARE)]  # candidates holding well under 1/TABLE_SHARE of the items
    made.clear()
    assert np.array_equal(whole.score(3, few), index.score(queries[3], few)) and not made

    stored = index.dense.vectors(np.arange(len(index.dense)))  # as float32, rounded to float16 where so stored
    for q in (0, 99):
        expected = []
        for r in rows.tolist():
            ids = [index._id_of[t] for t in index.items_of(r)]
            sims = sorted((stored[ids] @ queries[q]).tolist(), reverse=True)[:3]
            expected.append(sum(sims) / len(sims) if sims else 0.0)
        np.testing.assert_allclose(alone[q], expected, atol=1e-6)


def test_stable_products_do_not_depend_on_the_batch_or_the_threads(tmp_path):
    """The float32 values of `stable_products` for a (row, query) pair are the same alone, in any batch and under
    one or several BLAS threads, on a product large enough for OpenBLAS to split it (a float32 product is not)."""
    from matcher.index.dense.store import stable_products

    rng = np.random.default_rng(0)
    rows, queries = _unit(rng, 20_000, 256), _unit(rng, 64, 256)
    table = stable_products(rows, queries)
    order = rng.permutation(64)
    assert np.array_equal(stable_products(rows, queries[order]), table[:, order])
    picked = np.sort(rng.choice(len(rows), 3_000, replace=False))
    assert np.array_equal(stable_products(rows[picked], queries[5]), table[picked, 5:6])

    np.save(tmp_path / "rows.npy", rows)
    np.save(tmp_path / "queries.npy", queries)
    code = ("import sys, numpy as np; from matcher.index.dense.store import stable_products; "
            "np.save(sys.argv[3], stable_products(np.load(sys.argv[1]), np.load(sys.argv[2])))")
    one_thread = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", code, *(str(tmp_path / f) for f in ("rows.npy", "queries.npy", "out.npy"))],
                   env=one_thread, check=True)
    assert np.array_equal(np.load(tmp_path / "out.npy"), table)
