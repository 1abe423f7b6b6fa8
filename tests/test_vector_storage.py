"""Compact (float16) vector storage and memory-mapped index files: what each keeps and what it changes."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from matcher.config import MatcherConfig
from matcher.engine import Matcher
from matcher.errors import IndexMismatchError
from matcher.index.dense import DenseIndex
from matcher.schema import Kind

DIM = 32


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3000, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.arange(10, 3010, dtype=np.int64), x


def _recall_at_10(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)]))


@pytest.mark.parametrize("backend", ["flat", "ivf", "hnsw"])
def test_float16_storage_halves_the_vectors_and_keeps_recall(data, tmp_path, backend):
    ids, x = data
    exact = DenseIndex(DIM, backend=backend)  # the same backend in float32
    exact.add(ids, x)
    half = DenseIndex(DIM, backend=backend, storage="float16")
    half.add(ids, x)
    queries = x[:200] + 0.05 * np.random.default_rng(1).standard_normal((200, DIM)).astype(np.float32)
    truth = exact.search(queries, 10)[1]
    assert _recall_at_10(half.search(queries, 10)[1], truth) >= 0.97
    # exact rescoring and the vectors handed out stay float32, within float16's rounding of the stored ones
    got = half.vectors(ids[:5])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, x[:5], atol=1e-3)
    np.testing.assert_allclose(half.score(queries[0], ids[:50]), exact.score(queries[0], ids[:50]), atol=5e-3)
    exact.save(tmp_path / "f32")
    half.save(tmp_path / "f16")
    assert np.load(tmp_path / "f16" / "vectors.npy").dtype == np.float16
    assert (tmp_path / "f16" / "vectors.npy").stat().st_size < 0.55 * (tmp_path / "f32" / "vectors.npy").stat().st_size
    if backend == "flat":  # the faiss copy is float16 too
        assert (tmp_path / "f16" / "index.faiss").stat().st_size < 0.55 * (tmp_path / "f32" / "index.faiss").stat().st_size
    loaded = DenseIndex.load(tmp_path / "f16")
    assert loaded.params.storage == "float16"
    np.testing.assert_array_equal(loaded.search(queries, 10)[1], half.search(queries, 10)[1])


def test_ivf_lists_hold_float16_codes_and_the_scores_stay_exact(data, tmp_path):
    """The IVF lists only propose candidates: they keep float16 codes (half the float32 vectors' size), propose what
    float32 codes in the same lists would, and the scores come from the float32 store, equal to exact search's."""
    ids, x = data
    ivf, flat = DenseIndex(DIM, backend="ivf"), DenseIndex(DIM, backend="flat")
    for index in (ivf, flat):
        index.add(ids, x)
    lists = faiss.extract_index_ivf(ivf._ann.index)
    same_lists = faiss.IndexFlatIP(DIM)
    same_lists.add(lists.quantizer.reconstruct_n(0, lists.nlist))
    float32_codes = faiss.IndexIVFFlat(same_lists, DIM, lists.nlist, faiss.METRIC_INNER_PRODUCT)
    float32_codes.is_trained, float32_codes.nprobe = True, lists.nprobe
    float32_codes.add_with_ids(x, ids)
    queries = x[:200] + 0.05 * np.random.default_rng(1).standard_normal((200, DIM)).astype(np.float32)
    truth, proposed, reference = flat.search(queries, 10)[1], ivf.search(queries, 10)[1], float32_codes.search(queries, 10)[1]
    assert _recall_at_10(proposed, reference) >= 0.99
    assert _recall_at_10(proposed, truth) >= _recall_at_10(reference, truth) - 0.005 and _recall_at_10(proposed, truth) > 0.9
    np.testing.assert_array_equal(ivf.score(queries[0], ids[:50]), flat.score(queries[0], ids[:50]))
    ivf.save(tmp_path / "ivf")
    assert (tmp_path / "ivf" / "index.faiss").stat().st_size < 0.6 * (tmp_path / "ivf" / "vectors.npy").stat().st_size


def test_unknown_storage_is_refused():
    with pytest.raises(ValueError, match="unknown vector storage"):
        DenseIndex(DIM, storage="int4")


@pytest.mark.parametrize("backend", ["flat", "ivf", "hnsw"])
@pytest.mark.parametrize("storage", ["float32", "float16"])
def test_mapped_index_searches_as_the_read_one_and_copies_itself_on_change(data, tmp_path, backend, storage):
    ids, x = data
    index = DenseIndex(DIM, backend=backend, storage=storage)
    index.add(ids[:2000], x[:2000])
    index.save(tmp_path / "saved")
    files = {p.name: p.read_bytes() for p in (tmp_path / "saved").iterdir()}
    mapped = DenseIndex.load(tmp_path / "saved")
    in_memory = DenseIndex.load(tmp_path / "saved", mmap=False)
    assert mapped.mapped and not in_memory.mapped
    queries = x[2000:2100]
    for a, b in zip(mapped.search(queries, 10), in_memory.search(queries, 10)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(mapped.score(queries[0], ids[:100]), in_memory.score(queries[0], ids[:100]))
    # a change (faiss cannot write into mapped data) copies the index first: same result as the in-memory one
    for idx in (mapped, in_memory):
        idx.add(ids[1990:2100], x[1990:2100][::-1])
        assert idx.remove(ids[:20]) == 20
    assert not mapped.mapped
    for a, b in zip(mapped.search(queries, 10), in_memory.search(queries, 10)):
        np.testing.assert_array_equal(a, b)
    # the files it was mapped from are untouched
    assert {p.name: p.read_bytes() for p in (tmp_path / "saved").iterdir()} == files


def test_mapped_index_ignores_a_removal_of_unknown_ids(data, tmp_path):
    ids, x = data
    index = DenseIndex(DIM, backend="flat")
    index.add(ids[:100], x[:100])
    index.save(tmp_path / "saved")
    mapped = DenseIndex.load(tmp_path / "saved")
    assert mapped.remove(np.array([99_999])) == 0
    assert mapped.mapped  # nothing changed, nothing copied


def test_engine_float16_storage_is_part_of_the_index(config, demo_patents, demo_enterprises, tmp_path):
    half_config = config.model_copy(update={"vector_storage": "float16"})
    full, half = Matcher(config), Matcher(half_config)
    for m in (full, half):
        m.index(Kind.PATENT, demo_patents)
        m.index(Kind.ENTERPRISE, demo_enterprises)
    half.save(tmp_path / "index")
    loaded = Matcher.load(tmp_path / "index")
    assert loaded.config.vector_storage == "float16"
    assert np.load(tmp_path / "index" / "enterprise" / "items" / "dense" / "vectors.npy", mmap_mode="r").dtype == np.float16
    # the rankings agree with float32's but for near-ties
    overlaps = []
    for eid in demo_enterprises["id"][:20]:
        a = [m.target_id for m in full.search(full.query_for(Kind.ENTERPRISE, eid), Kind.PATENT, k=10, explain=False)[0].matches]
        b = [m.target_id for m in loaded.search(loaded.query_for(Kind.ENTERPRISE, eid), Kind.PATENT, k=10,
                                                explain=False)[0].matches]
        overlaps.append(len(set(a) & set(b)) / 10)
    assert np.mean(overlaps) >= 0.9
    with pytest.raises(IndexMismatchError, match="vector_storage"):
        Matcher.load(tmp_path / "index", MatcherConfig(encoder=config.encoder, cache_dir=config.cache_dir,
                                                       vector_storage="float32"))


@pytest.mark.parametrize("backend", ["flat", "ivf"])
def test_a_float16_index_keeps_float16_rows_handed_over_and_feeds_faiss_a_block_at_a_time(data, backend, monkeypatch):
    """A build hands a float16 index its rows already in float16 (`as_stored`): the index keeps that very array and
    converts blocks of it for faiss, which gives the faiss index that one float32 array would."""
    import matcher.index.dense.base as base

    ids, x = data
    whole = DenseIndex(DIM, backend=backend, storage="float16")
    whole.add(ids, x)
    half = DenseIndex(DIM, backend=backend, storage="float16")
    rows = half.as_stored(x)
    assert rows.dtype == np.float16
    monkeypatch.setattr(base, "FAISS_BLOCK", 700)
    half.add(ids, rows, handed_over=True)
    assert np.shares_memory(half._store._vecs, rows)  # kept, not copied
    queries = x[:50]
    np.testing.assert_array_equal(half.search(queries, 10)[1], whole.search(queries, 10)[1])
    np.testing.assert_array_equal(half.search(queries, 10)[0], whole.search(queries, 10)[0])


def test_faiss_gets_float16_rows_as_float32_blocks_and_float32_rows_in_one_call(monkeypatch):
    import matcher.index.dense.base as base

    class Recorder:
        def __init__(self):
            self.calls = []

        def add_with_ids(self, vectors, ids):
            self.calls.append((vectors.dtype, vectors.flags.c_contiguous, len(vectors), ids.tolist()))

    monkeypatch.setattr(base, "FAISS_BLOCK", 4)
    rows, ids = np.ones((10, 3), dtype=np.float16), np.arange(10, dtype=np.int64)
    half, full = Recorder(), Recorder()
    base.add_with_ids(half, rows, ids)
    base.add_with_ids(full, rows.astype(np.float32), ids)
    assert half.calls == [(np.float32, True, 4, [0, 1, 2, 3]), (np.float32, True, 4, [4, 5, 6, 7]),
                          (np.float32, True, 2, [8, 9])]
    assert full.calls == [(np.float32, True, 10, list(range(10)))]


def test_ivf_of_a_float16_store_trains_on_a_float32_sample_of_at_most_1_gib(data, monkeypatch):
    import matcher.index.dense.ivf as ivf

    ids, x = data
    trained: list[tuple[int, np.dtype]] = []
    real = faiss.IndexIVFScalarQuantizer.train
    monkeypatch.setattr(faiss.IndexIVFScalarQuantizer, "train",
                        lambda self, v: (trained.append((len(v), v.dtype)), real(self, v))[1])
    for storage in ("float32", "float16"):
        DenseIndex(DIM, backend="ivf", nlist=20, storage=storage).add(ids, x)
    monkeypatch.setattr(ivf, "_MAX_TRAIN_COPY_BYTES", 1000 * 4 * DIM)  # room for 1,000 float32 rows
    for storage in ("float32", "float16"):
        DenseIndex(DIM, backend="ivf", nlist=20, storage=storage).add(ids, x)
    monkeypatch.setattr(ivf, "_MAX_TRAIN_COPY_BYTES", 10 * 4 * DIM)  # never below 39 points per centroid
    DenseIndex(DIM, backend="ivf", nlist=20, storage="float16").add(ids, x)
    # every row (3,000 <= 20 x 256) unless the float32 copy of a float16 store's sample would exceed the budget
    assert trained == [(3000, np.float32), (3000, np.float32), (3000, np.float32), (1000, np.float32), (780, np.float32)]


def test_auto_storage_is_float16_for_an_index_first_filled_above_the_exact_limit(data, tmp_path):
    ids, x = data
    small, large = (DenseIndex(DIM, exact_limit=2000, storage="auto") for _ in range(2))
    small.add(ids[:2000], x[:2000])
    rows = large.as_stored(x)  # a build converts its own copy first, deciding the storage
    assert rows.dtype == np.float16
    large.add(ids, rows, handed_over=True)
    assert (small.params.storage, small.active_backend) == ("float32", "flat")
    assert (large.params.storage, large.active_backend) == ("float16", "ivf")
    small.add(ids[2000:], x[2000:])  # growing past the limit later keeps the storage (a full build decides again)
    assert small.params.storage == "float32" and small.active_backend == "ivf"
    large.save(tmp_path / "large")
    loaded = DenseIndex.load(tmp_path / "large")
    assert loaded.params.storage == "float16"
    assert np.load(tmp_path / "large" / "vectors.npy", mmap_mode="r").dtype == np.float16
    np.testing.assert_array_equal(loaded.search(x[:20], 10)[1], large.search(x[:20], 10)[1])


def test_engine_auto_storage_halves_only_the_large_sides(config, demo_patents, demo_enterprises, tmp_path):
    """With `exact_limit` below the demo enterprises' scope items but above the patents, only the items go float16;
    an index built at the default limit keeps everything in float32, so its rankings are those of float32."""
    assert config.vector_storage == "auto"
    m = Matcher(config.model_copy(update={"exact_limit": len(demo_patents)}))
    m.index(Kind.PATENT, demo_patents)
    m.index(Kind.ENTERPRISE, demo_enterprises)
    m.save(tmp_path / "index")
    assert np.load(tmp_path / "index" / "patent" / "dense" / "vectors.npy", mmap_mode="r").dtype == np.float32
    assert np.load(tmp_path / "index" / "enterprise" / "items" / "dense" / "vectors.npy", mmap_mode="r").dtype == np.float16
    assert Matcher.load(tmp_path / "index").config.vector_storage == "auto"


def test_nprobe_is_a_search_setting_of_the_ivf_lists(data, tmp_path):
    """More lists scanned find more of the exact neighbours; the setting changes a built or loaded index's searches
    without changing what it holds, and a loaded index answers as the one saved at the same setting."""
    ids, x = data
    ivf, flat = DenseIndex(DIM, backend="ivf"), DenseIndex(DIM, backend="flat")
    for index in (ivf, flat):
        index.add(ids, x)
    queries = x[:200] + 0.3 * np.random.default_rng(2).standard_normal((200, DIM)).astype(np.float32)
    truth = flat.search(queries, 10)[1]
    ivf.set_nprobe(1)
    one = ivf.search(queries, 10)[1]
    ivf.set_nprobe(100_000)  # capped at the lists there are: every list scanned
    every = ivf.search(queries, 10)[1]
    assert _recall_at_10(one, truth) < _recall_at_10(every, truth) and _recall_at_10(every, truth) >= 0.98
    ivf.save(tmp_path / "ivf")
    loaded = DenseIndex.load(tmp_path / "ivf")
    np.testing.assert_array_equal(loaded.search(queries, 10)[1], every)
    loaded.set_nprobe(1)
    np.testing.assert_array_equal(loaded.search(queries, 10)[1], one)
    assert loaded.mapped  # a search setting: nothing copied
    with pytest.raises(ValueError, match="at least 1"):
        loaded.set_nprobe(0)


def test_engine_ivf_nprobe_reaches_every_dense_index_when_built_and_when_loaded(config, demo_enterprises, tmp_path):
    ivf_config = config.model_copy(update={"dense_backend": "ivf", "ivf_nprobe": 2})
    built = Matcher(ivf_config)
    built.index(Kind.ENTERPRISE, demo_enterprises)
    coll = built.collection(Kind.ENTERPRISE)
    assert coll.dense.params.nprobe == coll.items.dense.params.nprobe == 2
    built.save(tmp_path / "index")
    assert Matcher.load(tmp_path / "index").collection(Kind.ENTERPRISE).dense.params.nprobe == 2
    wider = Matcher.load(tmp_path / "index", MatcherConfig(encoder=config.encoder, cache_dir=config.cache_dir, ivf_nprobe=5))
    coll = wider.collection(Kind.ENTERPRISE)
    assert wider.config.ivf_nprobe == 5 and coll.dense.params.nprobe == coll.items.dense.params.nprobe == 5
    lists = faiss.extract_index_ivf(coll.items.dense._ann.index)
    assert lists.nprobe == min(5, lists.nlist)
