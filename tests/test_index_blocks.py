"""Fast tests of the index building blocks: dense (faiss) index, incremental BM25, manifest, atomic writes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import faiss
import numpy as np
import pytest

from matcher.errors import IndexMismatchError, MatcherError
from matcher.index.atomic import atomic_dir, atomic_write_bytes, atomic_write_text, recover_dir
from matcher.index.dense import DenseIndex, DenseParams, VectorStore, create_ann
from matcher.index.dense.auto import AutoANN
from matcher.index.dense.factory import BACKENDS as BACKEND_CLASSES
from matcher.index.dense.flat import FlatANN
from matcher.index.dense.hnsw import HNSWANN
from matcher.index.dense.ivf import IVFANN
from matcher.index.lexical import BM25Index
from matcher.rank.scorers import BM25Scorer
from matcher.index.manifest import (
    Manifest,
    check_manifest,
    current_versions,
    data_hash,
    read_manifest,
    write_manifest,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DIM = 16
BACKENDS = ["flat", "ivf", "hnsw"]


def _unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return np.arange(1000, 1300, dtype=np.int64), _unit(rng, 300)


def _all_ids(index: DenseIndex, queries: np.ndarray) -> np.ndarray:
    """Ids of a search that asks for every stored vector."""
    return index.search(queries, len(index) + 5)[1]


# ---------------------------------------------------------------------------------------------- dense
@pytest.mark.parametrize("backend", BACKENDS)
def test_dense_search_returns_nearest(backend, data):
    ids, x = data
    index = DenseIndex(DIM, backend=backend)
    index.add(ids, x)
    assert index.active_backend == backend
    assert len(index) == len(ids)
    scores, found = index.search(x[:40], 3)
    assert scores.shape == found.shape == (40, 3)
    assert scores.dtype == np.float32 and found.dtype == np.int64
    np.testing.assert_array_equal(found[:, 0], ids[:40])
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=2e-3 if backend == "ivf" else 1e-5)  # IVF: float16 codes
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    # exact scoring of an arbitrary candidate set, and stored vectors
    np.testing.assert_allclose(index.score(x[3], ids[[5, 3, 9]]), x[[5, 3, 9]] @ x[3], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(index.vectors(ids[[2, 1]]), x[[2, 1]])
    # asking for more than stored pads with -1 / -inf
    s, i = index.search(x[:2], len(ids) + 3)
    assert (i[:, -3:] == -1).all() and np.isneginf(s[:, -3:]).all()
    assert set(i[0, : len(ids)].tolist()) == set(ids.tolist())


def test_raw_faiss_duplicates_ids():
    """Why DenseIndex.add has to handle upserts: faiss itself keeps both vectors of a re-added id."""
    raw = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    v = _unit(np.random.default_rng(0), 2)
    raw.add_with_ids(v[:1], np.array([5], dtype=np.int64))
    raw.add_with_ids(v[1:], np.array([5], dtype=np.int64))
    assert raw.ntotal == 2
    assert (raw.search(v[:1], 2)[1] == 5).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_dense_upsert_replaces(backend, data):
    ids, x = data
    index = DenseIndex(DIM, backend=backend)
    index.add(ids, x)
    new = _unit(np.random.default_rng(99), 3)
    index.add(ids[[0, 1, 2]], new)
    assert len(index) == len(ids)
    np.testing.assert_array_equal(index.vectors(ids[[0, 1, 2]]), new)
    _, found = index.search(new, 1)
    np.testing.assert_array_equal(found[:, 0], ids[[0, 1, 2]])
    # the old vector of id 0 is gone: its exact score is now against the new vector
    np.testing.assert_allclose(index.score(x[0], ids[:1]), [float(new[0] @ x[0])], atol=1e-6)
    every = _all_ids(index, np.vstack([x[:5], new]))
    for row in every:
        live = row[row >= 0]
        assert len(live) == len(set(live.tolist())) == len(ids)
    # a repeated id inside one batch keeps the last vector
    index.add(np.array([ids[7], ids[7]]), np.vstack([new[0], new[1]]))
    assert len(index) == len(ids)
    np.testing.assert_array_equal(index.vectors(ids[[7]])[0], new[1])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_removed", [5, 150])  # hnsw: tombstones only / past the rebuild threshold
def test_dense_remove(backend, n_removed, data):
    ids, x = data
    index = DenseIndex(DIM, backend=backend)
    index.add(ids, x)
    gone = ids[10 : 10 + n_removed]
    assert index.remove(np.concatenate([gone, [123456]])) == n_removed
    assert index.remove(gone) == 0
    assert len(index) == len(ids) - n_removed
    assert set(index.ids.tolist()) == set(ids.tolist()) - set(gone.tolist())
    every = _all_ids(index, x[:30])
    assert not np.isin(every, gone).any()
    assert ((every >= 0).sum(axis=1) == len(index)).all()
    top = index.search(x[10 : 10 + n_removed], 1)[1][:, 0]  # removed vectors' own queries
    assert (top >= 0).all() and not np.isin(top, gone).any()
    keep = ids[200:230]
    np.testing.assert_array_equal(index.search(x[200:230], 1)[1][:, 0], keep)
    with pytest.raises(KeyError):
        index.score(x[0], gone[:1])
    # a removed id can come back
    index.add(gone[:1], x[10:11])
    assert index.search(x[10:11], 1)[1][0, 0] == gone[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_dense_save_load_round_trip(backend, data, tmp_path):
    ids, x = data
    index = DenseIndex(DIM, backend=backend, nprobe=4)
    index.add(ids, x)
    index.add(ids[:4], _unit(np.random.default_rng(3), 4))
    index.remove(ids[50:60])
    index.save(tmp_path / "dense")
    loaded = DenseIndex.load(tmp_path / "dense")
    assert loaded.active_backend == backend and len(loaded) == len(index)
    queries = _unit(np.random.default_rng(4), 25)
    s1, i1 = index.search(queries, 10)
    s2, i2 = loaded.search(queries, 10)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(s1, s2, rtol=1e-6)
    np.testing.assert_array_equal(np.sort(loaded.ids), np.sort(index.ids))
    # the loaded index keeps working incrementally
    loaded.add(ids[50:51], x[50:51])
    assert loaded.search(x[50:51], 1)[1][0, 0] == ids[50]


def test_dense_load_damaged(tmp_path):
    with pytest.raises(MatcherError, match="matcher build"):
        DenseIndex.load(tmp_path / "nothing")


def test_dense_auto_switches_from_flat_to_ivf(data):
    ids, x = data
    index = DenseIndex(DIM, backend="auto", exact_limit=100)
    assert index.active_backend is None
    index.add(ids[:80], x[:80])
    assert index.active_backend == "flat"
    index.add(ids[80:], x[80:])
    assert index.active_backend == "ivf"
    np.testing.assert_array_equal(index.search(x[:50], 1)[1][:, 0], ids[:50])
    big = DenseIndex(DIM, backend="auto", exact_limit=100)
    big.add(ids, x)
    assert big.active_backend == "ivf"


def test_dense_backend_is_one_class_chosen_by_the_factory():
    expected = {"auto": AutoANN, "flat": FlatANN, "ivf": IVFANN, "hnsw": HNSWANN}
    assert BACKEND_CLASSES == expected
    for name, cls in expected.items():
        assert type(create_ann(VectorStore(DIM), DenseParams(backend=name))) is cls
    with pytest.raises(ValueError, match="unknown dense backend"):
        DenseIndex(DIM, backend="annoy")


def test_dense_saved_files_keep_their_format(data, tmp_path):
    ids, x = data
    DenseIndex(DIM).save(tmp_path / "empty")  # "auto" before its first add: no faiss file
    meta = json.loads((tmp_path / "empty" / "dense.json").read_text(encoding="utf-8"))
    assert list(meta) == ["format", "dim", "active_backend", "trained_rows", "params"]
    assert meta["active_backend"] is None and meta["params"]["backend"] == "auto"
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == ["dense.json", "ids.npy", "vectors.npy"]
    loaded = DenseIndex.load(tmp_path / "empty")
    assert loaded.active_backend is None and len(loaded) == 0
    loaded.add(ids, x)
    assert loaded.active_backend == "flat"
    np.testing.assert_array_equal(loaded.search(x[:5], 1)[1][:, 0], ids[:5])
    index = DenseIndex(DIM, backend="hnsw")
    index.add(ids, x)
    index.save(tmp_path / "hnsw")
    assert sorted(p.name for p in (tmp_path / "hnsw").iterdir()) == ["dense.json", "ids.npy", "index.faiss", "labels.npy", "vectors.npy"]


def test_dense_dimension_mismatch(data):
    ids, x = data
    index = DenseIndex(DIM)
    with pytest.raises(IndexMismatchError):
        index.add(ids[:2], np.zeros((2, DIM + 1), dtype=np.float32))
    index.add(ids, x)
    with pytest.raises(IndexMismatchError):
        index.search(np.zeros((1, DIM + 1), dtype=np.float32), 3)


def test_dense_empty_index():
    index = DenseIndex(DIM, backend="hnsw")
    s, i = index.search(np.zeros((2, DIM), dtype=np.float32), 4)
    assert i.shape == (2, 4) and (i == -1).all() and np.isneginf(s).all()


def test_positions_follow_every_change_of_the_stores(tmp_path):
    """The vectorised id -> position lookup of the vector store and of BM25 answers what a dict of the live ids
    would, through appends, replacements, removals, compactions and a save / load; the store keeps each id's last
    vector."""
    rng = np.random.default_rng(7)
    store, bm25 = VectorStore(DIM), BM25Index()
    live: set[int] = set()
    expected: dict[int, np.ndarray] = {}
    for step in range(40):
        if step == 20:  # the loaded stores go on from the saved ids
            store.save(tmp_path)
            store = VectorStore.from_arrays(np.load(tmp_path / "ids.npy"), np.load(tmp_path / "vectors.npy"))
            bm25.save(tmp_path / "bm25")
            bm25 = BM25Index.load(tmp_path / "bm25")
        if step % 3 == 2 and live:
            gone = rng.choice(sorted(live), size=min(len(live), int(rng.integers(1, 6))), replace=False)
            store.remove(np.asarray(gone, dtype=np.int64))
            store.maybe_compact()
            bm25.remove(np.asarray(gone, dtype=np.int64))
            live -= set(gone.tolist())
        else:
            ids = rng.choice(60, size=int(rng.integers(1, 8)), replace=False).astype(np.int64)
            vectors = _unit(rng, len(ids))
            store.upsert(ids, vectors)  # some ids new, some stored already
            expected.update(zip(ids.tolist(), vectors))
            bm25.add(ids, [["词", f"t{i % 5}"] for i in ids.tolist()])
            live |= set(ids.tolist())
        asked = np.array([-3, *range(-1, 62)], dtype=np.int64)
        for found, ids_at in ((store.slots(asked), store._slot_ids[: store._n_slots]), (bm25._rows(asked), bm25._row_ids)):
            assert ((found >= 0) == np.isin(asked, list(live))).all()
            assert (ids_at[found[found >= 0]] == asked[found >= 0]).all()
    assert sorted(store.ids.tolist()) == sorted(live) == sorted(bm25.ids.tolist())
    kept = np.array(sorted(live), dtype=np.int64)
    np.testing.assert_array_equal(store.vectors(kept), np.stack([expected[i] for i in kept.tolist()]))


# ---------------------------------------------------------------------------------------------- BM25
CORPUS = [
    "一种基于深度学习的工业图像缺陷检测方法及系统",
    "锂离子电池正极材料及其制备方法",
    "新能源汽车动力电池管理系统及均衡控制方法",
    "基于机器视觉的零件尺寸在线测量装置",
    "一种废旧锂电池回收处理工艺",
    "智能温室大棚环境监测与灌溉控制系统",
    "用于污水处理的复合絮凝剂及其制备方法",
    "基于物联网的冷链物流温度监控平台",
    "高强度铝合金材料的热处理工艺",
    "一种可降解塑料包装材料及其生产方法",
    "企业需要提升电池生产线的自动化检测水平",
    "公司寻求污水处理和中水回用技术合作",
    "希望引进图像识别技术用于产品质量检测",
    "需要开发农业大棚智能灌溉控制设备",
    "电池 电池 热管理 方法 研究 电池 安全",
    "基于深度学习的语音识别方法",
]
QUERIES = [
    "电池管理系统",
    "图像缺陷检测",
    "污水处理技术",
    "智能灌溉控制",
    "锂电池回收",
    "电池 电池 方法",  # repeated token counts once per occurrence
    "基于深度学习的识别方法",
]


@pytest.fixture(scope="module")
def tokenize():
    jieba = pytest.importorskip("jieba")
    jieba.setLogLevel(60)

    def cut(text: str) -> list[str]:
        return [t for t in jieba.lcut(text) if t.strip()]

    return cut


@pytest.fixture(scope="module")
def corpus_tokens(tokenize):
    return [tokenize(d) for d in CORPUS]


def _bm25(ids, docs, **kw) -> BM25Index:
    index = BM25Index(**kw)
    index.add(np.asarray(ids, dtype=np.int64), docs)
    return index


@pytest.mark.parametrize("k1,b", [(1.5, 0.75), (1.2, 0.5)])
def test_bm25_matches_bm25s_on_chinese(k1, b, tokenize, corpus_tokens):
    bm25s = pytest.importorskip("bm25s")
    reference = bm25s.BM25(method="lucene", k1=k1, b=b)
    reference.index(corpus_tokens, show_progress=False)
    index = _bm25(np.arange(len(CORPUS)), corpus_tokens, k1=k1, b=b)
    all_ids = np.arange(len(CORPUS))
    for text in QUERIES:
        query = tokenize(text)
        expected = reference.get_scores(query)
        assert (expected > 0).any(), text
        np.testing.assert_allclose(index.score(query, all_ids), expected, rtol=1e-5, atol=1e-5)
        scores, found = index.search(query, 5)
        top = np.sort(expected[expected > 0])[::-1][:5]
        np.testing.assert_allclose(scores, top, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(expected[found], scores, rtol=1e-5, atol=1e-5)
        ref_docs, ref_scores = reference.retrieve([query], k=len(found), show_progress=False)
        ranked = np.sort(expected[expected > 0])[::-1]
        after = ranked[len(top)] if len(ranked) > len(top) else 0.0  # the best score left out
        distinct = np.abs(np.diff(np.concatenate([[np.inf], top, [after]]))) > 1e-5
        unique_rank = distinct[:-1] & distinct[1:]  # ranks whose score is not tied with a neighbour, in or out
        np.testing.assert_array_equal(found[unique_rank], ref_docs[0][unique_rank])


def test_bm25_upsert_and_remove_match_fresh_build(tokenize, corpus_tokens):
    index = _bm25(np.arange(len(CORPUS)), corpus_tokens)
    docs = dict(enumerate(corpus_tokens))
    replacement = {2: tokenize("一种高效光伏组件清洗机器人"), 5: tokenize("电池 电池 电池 储能 系统")}
    index.add(np.array(list(replacement)), list(replacement.values()))
    docs.update(replacement)
    index.remove(np.array([0, 7, 12]))
    for i in (0, 7, 12):
        del docs[i]
    index.add(np.array([100, 3]), [tokenize("污水 处理 设备"), tokenize("机器视觉 测量 装置 改进")])
    docs[100] = tokenize("污水 处理 设备")
    docs[3] = tokenize("机器视觉 测量 装置 改进")
    fresh = _bm25(list(docs), list(docs.values()))
    assert len(index) == len(fresh) == len(docs)
    # each stored document's terms, read back from the term matrix, are the set it was added with
    assert [set(t) for t in index.doc_terms(np.array(sorted(docs)))] == [set(docs[i]) for i in sorted(docs)]
    with pytest.raises(KeyError):
        index.doc_terms(np.array([0]))  # removed
    assert set(index.ids.tolist()) == set(docs)
    assert index.avgdl == pytest.approx(fresh.avgdl)
    ids = np.array(sorted(docs))
    for text in QUERIES + ["光伏 清洗", "储能"]:
        query = tokenize(text)
        assert index.term_idf(query) == pytest.approx(fresh.term_idf(query))
        np.testing.assert_allclose(index.score(query, ids), fresh.score(query, ids), rtol=1e-6, atol=1e-6)
        s1, i1 = index.search(query, 6)
        s2, i2 = fresh.search(query, 6)
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_allclose(s1, s2, rtol=1e-6)
    # removed / replaced content is no longer found
    assert 0 not in index.search(tokenize("工业图像缺陷检测"), 20)[1]
    assert index.search(["均衡"], 5)[1].size == 0  # only in the replaced doc 2
    with pytest.raises(KeyError):
        index.score(["电池"], np.array([7]))


def test_bm25_unknown_terms_and_edge_cases(corpus_tokens):
    index = _bm25(np.arange(len(CORPUS)), corpus_tokens)
    for query in (["量子计算"], ["不存在的词", "另一个"], []):
        scores, found = index.search(query, 5)
        assert scores.size == found.size == 0
    assert index.term_idf(["量子计算"]) == {"量子计算": 0.0}
    assert index.term_idf(["电池"])["电池"] > 0
    assert BM25Index().search(["电池"], 3)[1].size == 0
    assert index.search(["电池"], 0)[1].size == 0
    assert index.remove(np.arange(len(CORPUS))) == len(CORPUS)
    assert len(index) == 0 and index.search(["电池"], 3)[1].size == 0


def test_bm25_search_many_equals_looped_search(tokenize, corpus_tokens):
    index = _bm25(np.arange(len(CORPUS)) * 10, corpus_tokens)
    queries = [tokenize(q) for q in QUERIES] + [["量子计算"], []] + corpus_tokens
    batch = index.search_many(queries, 4)
    assert len(batch) == len(queries)
    for query, (scores, found) in zip(queries, batch):
        s, i = index.search(query, 4)
        np.testing.assert_array_equal(found, i)
        np.testing.assert_array_equal(scores, s)


def test_bm25_top_documents_are_the_best_by_score_then_id_and_only_those_sharing_a_term():
    """Many documents with the same score (a term each, the same length, as thousands of registrations are): the
    k best are the first k of every positive score sorted by score, then by id, at every k."""
    rng = np.random.default_rng(3)
    ids = rng.permutation(400) * 7  # ids not in storage order
    docs = [[f"t{i % 5}", "filler", "filler"][: 1 + i % 3] if i % 4 else ["other"] for i in range(400)]
    index = _bm25(ids, docs)
    queries = [["t1"], ["t1", "t2", "filler"], ["t3", "filler"], ["nothing"], ["other", "t4"]]
    table = index.score_all(queries)
    every = np.sort(ids)
    for row, query in zip(table, queries):
        values = index.scores_at(row, every)
        order = np.lexsort((every, -values))  # every document: score descending, then id ascending
        best = order[values[order] > 0]
        for k in (1, 3, 10, 25, 80, 400, 1000):
            scores, found = index.top_of(row[None, :], k)[0]
            np.testing.assert_array_equal(found, every[best[:k]])
            np.testing.assert_array_equal(scores, values[best[:k]])
            np.testing.assert_array_equal(index.search(query, k)[1], found)
        assert len(best) == 0 or len(np.unique(values[best])) < len(best) / 5  # many ties at every cut


def test_bm25_scores_of_every_document_are_the_scores_of_score_and_search(tokenize, corpus_tokens):
    """`score_all` (kept by BM25Scorer for a batch, `scores_at` reading candidates from it) gives bit for bit what
    `score` and `search_many` give, after replacements and removals too, and the stored tokens score as the text's."""
    index = _bm25(np.arange(len(CORPUS)) * 10, corpus_tokens)
    index.add(np.array([20, 999]), [tokenize("一种高效光伏组件清洗机器人"), tokenize("电池 电池 储能 系统")])
    index.remove(np.array([0, 70]))
    ids = np.sort(index.ids)
    queries = [tokenize(q) for q in QUERIES] + [["量子计算"], [], ["电池", "电池", "储能"]] + corpus_tokens
    table = index.score_all(queries)
    assert table.shape == (len(queries), index.stored_rows) and table.dtype == np.float32
    for query, row, (scores, found) in zip(queries, table, index.search_many(queries, 5)):
        np.testing.assert_array_equal(index.scores_at(row, ids), index.score(query, ids))
        top_scores, top_ids = index.top_of(row[None, :], 5)[0]
        np.testing.assert_array_equal(top_ids, found)
        np.testing.assert_array_equal(top_scores, scores)
    docs = {10 * i: t for i, t in enumerate(corpus_tokens)} | {20: tokenize("一种高效光伏组件清洗机器人"),
                                                                999: tokenize("电池 电池 储能 系统")}
    added = [docs[i] for i in ids.tolist()]
    stored = index.doc_tokens(ids)  # each document's tokens with their repeats, in vocabulary order
    assert [sorted(t) for t in stored] == [sorted(t) for t in added] and stored != added
    np.testing.assert_array_equal(index.score_all(stored), index.score_all(added))
    with pytest.raises(KeyError):
        index.scores_at(table[0], np.array([0]))  # removed


def test_bm25_scorer_reads_the_kept_scores_as_it_would_compute_them(tokenize, corpus_tokens):
    index = _bm25(np.arange(len(CORPUS)), corpus_tokens)
    queries = [tokenize(q) for q in QUERIES] + corpus_tokens[:5]
    kept = BM25Scorer(index, queries)
    found = kept.candidates(list(range(len(queries))), 6)
    assert kept._all and all(len(f) for f in found[:3])
    ids = np.sort(index.ids)
    for q, rows in enumerate(found):
        assert found[q].tolist() == index.search(queries[q], 6)[1].tolist()
        np.testing.assert_array_equal(kept.score(q, ids), index.score(queries[q], ids).astype(np.float64))


def test_bm25_save_load_round_trip(tokenize, corpus_tokens, tmp_path):
    index = _bm25(np.arange(len(CORPUS)), corpus_tokens, k1=1.2, b=0.6)
    index.remove(np.array([1, 4]))  # their terms are pruned from the saved vocabulary
    live = index.ids
    before = index.doc_terms(live)  # read before the pruning renumbers the vocabulary
    index.save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    assert (loaded.k1, loaded.b, len(loaded)) == (1.2, 0.6, len(index))
    for terms in (index.doc_terms(live), loaded.doc_terms(live)):
        assert [set(t) for t in terms] == [set(t) for t in before] == [set(corpus_tokens[i]) for i in live.tolist()]
    for text in QUERIES:
        query = tokenize(text)
        s1, i1 = index.search(query, 5)
        s2, i2 = loaded.search(query, 5)
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_allclose(s1, s2, rtol=1e-6)
    with pytest.raises(MatcherError, match="matcher build"):
        BM25Index.load(tmp_path / "missing")


# ---------------------------------------------------------------------------------------------- manifest
def _manifest(**kw) -> Manifest:
    base = dict(
        kind="patent",
        model_id="use-m3",
        dim=512,
        rows=3,
        data_hash=data_hash(["a", "b", "c"], ["专利一", "专利二", "专利三"]),
        versions=current_versions(),
        built_at="2024-05-01T12:00:00+00:00",
        params={"backend": "auto", "k1": 1.5},
    )
    base.update(kw)
    return Manifest(**base)


def test_manifest_round_trip(tmp_path):
    manifest = _manifest()
    assert Manifest.from_json(manifest.to_json()) == manifest
    write_manifest(tmp_path, manifest)
    read = read_manifest(tmp_path)
    assert read == manifest and read.source == str(tmp_path)
    versions = current_versions()
    assert {"python", "numpy", "faiss", "jieba", "sentence-transformers", "matcher"} <= set(versions)


def test_manifest_missing_or_damaged(tmp_path):
    with pytest.raises(MatcherError, match="matcher build"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(MatcherError, match="damaged.*matcher build"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "patent"}), encoding="utf-8")
    with pytest.raises(MatcherError, match="lacks field"):
        read_manifest(tmp_path)


def test_check_manifest_mismatch_message(tmp_path):
    write_manifest(tmp_path, _manifest(model_id="A", dim=512))
    manifest = read_manifest(tmp_path)
    check_manifest(manifest, model_id="A", dim=512, kind="patent")
    with pytest.raises(IndexMismatchError) as info:
        check_manifest(manifest, model_id="B", dim=384)
    assert str(info.value) == (
        f"index at {tmp_path} was built with model 'A' (dim 512) but the configured encoder is 'B' (dim 384): "
        "rebuild with `matcher build` or configure model 'A'"
    )
    with pytest.raises(IndexMismatchError, match="dim 512"):
        check_manifest(manifest, dim=384)
    with pytest.raises(IndexMismatchError, match="'enterprise'"):
        check_manifest(manifest, kind="enterprise")


def test_data_hash_is_order_independent_and_content_sensitive():
    h = data_hash(["1", "2"], ["甲", "乙"])
    assert h == data_hash(["2", "1"], ["乙", "甲"])
    assert h != data_hash(["1", "2"], ["甲", "丙"])
    assert h != data_hash(["1", "2"], ["乙", "甲"])
    assert data_hash(["a\tb"], ["c"]) != data_hash(["a"], ["b\tc"])
    with pytest.raises(ValueError):
        data_hash(["1"], [])


# ---------------------------------------------------------------------------------------------- atomic
def test_atomic_write_leaves_no_temp_files(tmp_path):
    path = tmp_path / "sub" / "file.json"
    atomic_write_text(path, "第一版")
    atomic_write_text(path, "第二版")
    atomic_write_bytes(tmp_path / "sub" / "raw.bin", b"\x00\x01")
    assert path.read_text(encoding="utf-8") == "第二版"
    assert sorted(p.name for p in path.parent.iterdir()) == ["file.json", "raw.bin"]
    with pytest.raises(TypeError):
        atomic_write_bytes(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_text(encoding="utf-8") == "第二版"
    assert sorted(p.name for p in path.parent.iterdir()) == ["file.json", "raw.bin"]


def _write_dir(target: Path, content: str) -> None:
    with atomic_dir(target) as tmp:
        (tmp / "data.txt").write_text(content, encoding="utf-8")


def test_atomic_dir_swaps_and_keeps_old_on_error(tmp_path):
    target = tmp_path / "index"
    _write_dir(target, "v1")
    _write_dir(target, "v2")
    assert (target / "data.txt").read_text(encoding="utf-8") == "v2"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "data.txt").write_text("v3", encoding="utf-8")
            raise RuntimeError("encoder failed")
    assert (target / "data.txt").read_text(encoding="utf-8") == "v2"
    assert [p.name for p in tmp_path.iterdir()] == ["index"]


_CRASH_SCRIPT = textwrap.dedent(
    """
    import os, shutil, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from matcher.index import atomic
    target, where = Path(sys.argv[2]), sys.argv[3]
    real_rename = os.rename
    calls = []
    def crashing_rename(src, dst):
        calls.append(src)
        if where == "between_renames" and len(calls) == 2:
            os._exit(3)  # dies after target -> backup, before new -> target
        real_rename(src, dst)
    def crashing_rmtree(*args, **kwargs):
        os._exit(3)  # dies after both renames, before the backup is removed
    atomic.os.rename = crashing_rename
    if where == "before_cleanup":
        atomic.shutil.rmtree = crashing_rmtree
    with atomic.atomic_dir(target) as tmp:
        (tmp / "data.txt").write_text("new", encoding="utf-8")
    """
)


@pytest.mark.parametrize("where,expected", [("between_renames", "old"), ("before_cleanup", "new")])
def test_atomic_dir_recovers_after_crash(where, expected, tmp_path):
    target = tmp_path / "index"
    _write_dir(target, "old")
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH_SCRIPT, str(REPO_ROOT), str(target), where],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stderr
    assert len(list(tmp_path.iterdir())) > 1  # the crash left debris behind
    if where == "between_renames":
        assert not target.exists()
    recover_dir(target)
    assert (target / "data.txt").read_text(encoding="utf-8") == expected
    assert [p.name for p in tmp_path.iterdir()] == ["index"]
    # and the next write works normally
    _write_dir(target, "next")
    assert (target / "data.txt").read_text(encoding="utf-8") == "next"
    assert [p.name for p in tmp_path.iterdir()] == ["index"]
