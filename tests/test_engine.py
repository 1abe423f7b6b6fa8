"""Engine behaviour on the demo set with the fast test encoder (tests/conftest.py): directions, BM25 on Chinese, filters,
explanations, upsert/delete consistency and index persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher.config import Direction, FusionConfig, MatcherConfig
from matcher.engine import Matcher, Query
from matcher.errors import IndexMismatchError, MatcherError, NotBuiltError
from matcher.index.collection import CONTENT, read_parquet_whole
from matcher.schema import Kind
from matcher.text.sentences import split_sentences


def test_demand_to_patents_finds_the_intended_patent(matcher):
    # DEMO-D-001 (anti-pilling scarves) was written to be answered by DEMO-P-049.
    result = matcher.search(matcher.query_for(Kind.ENTERPRISE, "DEMO-D-001"), Kind.PATENT, k=3)[0]
    assert result.matches[0].target_id == "DEMO-P-049"
    assert result.available == 60


def test_patent_to_enterprises_and_free_text_directions(matcher):
    res = matcher.search(matcher.query_for(Kind.PATENT, "DEMO-P-049"), Kind.ENTERPRISE, k=5)[0]
    assert "DEMO-D-001" in [m.target_id for m in res.matches]
    text = matcher.search("锂电池正极材料 循环寿命 容量衰减", Kind.PATENT, k=5)[0]
    assert any("电池" in m.record["title"] for m in text.matches[:3])
    ent = matcher.search(Query("膜材料 生物降解 薄膜"), Kind.ENTERPRISE, k=5)[0]
    assert len(ent.matches) == 5


def test_bm25_really_scores_chinese_queries(matcher, config, demo_index):
    # BM25 alone (dense weight 0) must rank by Chinese terms: a silent dense-only fallback would fail.
    lexical_only = config.model_copy(update={"fusion": {d: FusionConfig(weights={"bm25": 1.0}) for d in config.fusion}})
    m = Matcher.load(demo_index, lexical_only, encoder=matcher.encoder)
    res = m.search("抗起球 针织", Kind.PATENT, k=3)[0]
    top = res.matches[0]
    assert top.components["bm25"] > 0
    assert "起球" in top.record["abstract"]
    assert all(m.components["bm25"] >= n.components["bm25"] for m, n in zip(res.matches, res.matches[1:]))
    assert "起球" in top.explanation.shared_terms or "抗起球" in top.explanation.shared_terms


def test_explanations_have_components_terms_and_closest_sentence(matcher):
    res = matcher.search(matcher.query_for(Kind.ENTERPRISE, "DEMO-D-001"), Kind.PATENT, k=3)[0]
    for m in res.matches:
        # items: best scope items of the demand; portfolio: the patents it holds (none: a demand);
        # reciprocal: where the demand stands in the patent's own list (1 / position, 0 beyond it)
        assert set(m.components) == {"dense", "bm25", "items", "portfolio", "reciprocal"} and m.components["portfolio"] == 0.0
        assert 0.0 <= m.components["reciprocal"] <= 1.0
        assert m.explanation.held_patent == ""
        assert -1.0 <= m.components["dense"] <= 1.0
        patent_text = m.record[CONTENT]
        assert m.explanation.closest_sentence in split_sentences(patent_text)
        for term in m.explanation.shared_terms:
            assert term in matcher.terms(patent_text)
            assert term in matcher.terms(res.query.text)
    # patent -> enterprise: the closest sentence comes from the query patent
    res = matcher.search(matcher.query_for(Kind.PATENT, "DEMO-P-049"), Kind.ENTERPRISE, k=2)[0]
    sentences = split_sentences(res.query.text)
    assert all(m.explanation.closest_sentence in sentences for m in res.matches)


def test_stored_terms_are_the_terms_of_the_record_text(matcher):
    """Explanations and confidence read a stored record's terms from the BM25 index instead of segmenting its text
    again: the same set, for every record of both sides."""
    for kind in (Kind.PATENT, Kind.ENTERPRISE):
        coll = matcher.collection(kind)
        ids = coll.records["id"].astype(str).tolist()
        stored = coll.stored_terms(ids)
        assert len(stored) == len(ids) and any(stored)
        for terms, text in zip(stored, coll.records[CONTENT]):
            assert set(terms) == set(matcher.terms(text))


def _matches(results):
    return [[(m.target_id, m.score, m.components, m.explanation) for m in r.matches] for r in results]


def test_stored_records_are_asked_with_what_their_side_stored(matcher, monkeypatch):
    """A stored record asked with its stored text (the nightly job, the reciprocal lists) brings the tokens and item
    vectors its side stored instead of segmenting and embedding its text again: the same lists, scores, components
    and explanations as deriving them from the text, in both directions and 300 deep."""
    for kind in (Kind.PATENT, Kind.ENTERPRISE):
        coll = matcher.collection(kind)
        tokens = coll.lexical.doc_tokens(coll.records.index.to_numpy())
        for stored, text in zip(tokens, coll.records[CONTENT]):
            assert sorted(stored) == sorted(matcher.terms(text))
    enterprises = [matcher.query_for(Kind.ENTERPRISE, i) for i in matcher.collection(Kind.ENTERPRISE).ids]
    patents = [matcher.query_for(Kind.PATENT, i) for i in matcher.collection(Kind.PATENT).ids]
    assert all(row is not None for row in matcher._stored_text_rows(enterprises + patents))
    other = Query(text=patents[1].text, kind=Kind.PATENT, id=patents[0].id)  # a stored id asked with another text
    assert matcher._stored_text_rows([other]) == [None]

    def ask():
        return (_matches(matcher.search(enterprises, Kind.PATENT, k=10)), _matches(matcher.search(patents, Kind.ENTERPRISE, k=10)),
                _matches(matcher.search([other], Kind.ENTERPRISE, k=10)),
                [r.tolist() for r in matcher.ranked_rows(patents, Kind.ENTERPRISE, k=300)])

    fast = ask()
    monkeypatch.setattr(Matcher, "_stored_text_rows", lambda self, queries: [None] * len(queries))
    assert ask() == fast
    assert all(len(lists) and all(lists) for lists in fast)


def test_a_direction_segmenting_queries_in_another_mode_segments_stored_records_too(matcher):
    e2p = matcher.config.fusion_for(Direction.ENTERPRISE_TO_PATENT)
    matcher.config = matcher.config.model_copy(update={"fusion": {**matcher.config.fusion,
                                                                  Direction.ENTERPRISE_TO_PATENT: e2p.model_copy(update={"query_segment_mode": "accurate"})}})
    queries = [matcher.query_for(Kind.ENTERPRISE, i) for i in matcher.collection(Kind.ENTERPRISE).ids[:5]]
    terms = matcher._prepare(queries, matcher.collection(Kind.PATENT)).terms
    assert terms == [matcher.segmenter.tokens(q.text, "accurate") for q in queries]
    stored = matcher.collection(Kind.ENTERPRISE).lexical.doc_tokens(np.array(matcher._stored_text_rows(queries)))
    assert any(sorted(a) != sorted(b) for a, b in zip(terms, stored))  # the modes differ on these texts


def test_filters_never_silently_empty(matcher):
    from matcher.results import shortfall_note

    universities = (matcher.collection(Kind.PATENT).records["applicant_type"] == "企业").sum()
    res = matcher.search("智能制造 视觉检测", Kind.PATENT, k=50, filters={"applicant_type": "企业"})[0]
    assert len(res.matches) == res.available == universities
    assert all(m.record["applicant_type"] == "企业" for m in res.matches)
    assert "符合筛选条件" in shortfall_note(res)
    none = matcher.search("智能制造", Kind.PATENT, k=5, filters={"region": "火星"})[0]
    assert none.matches == [] and none.available == 0 and "没有符合" in shortfall_note(none)
    # a filter that keeps many still returns k
    many = matcher.search("材料", Kind.PATENT, k=5, filters={"applicant_type": ["高校", "科研院所"]})[0]
    assert len(many.matches) == 5
    with pytest.raises(MatcherError, match="cannot filter patents on 'colour'"):
        matcher.search("材料", Kind.PATENT, filters={"colour": "red"})


def test_filter_pool_grows_beyond_the_direct_limit(matcher):
    # force the pool-growth path: tiny pool, no direct scoring
    from matcher.rank.fusion import make_fusion
    from matcher.rank.retriever import HybridRetriever
    from matcher.rank.scorers import BM25Scorer, DenseScorer

    coll = matcher.collection(Kind.PATENT)
    allowed = coll.filter_rows({"region": "四川"})
    scorers = [DenseScorer(coll.dense, matcher.embed(["新能源 电池"])), BM25Scorer(coll.lexical, [matcher.terms("新能源 电池")])]
    retriever = HybridRetriever(len(coll), scorers, make_fusion(FusionConfig()), pool=2, direct_limit=0)
    ranking = retriever.retrieve(1, 5, allowed=allowed)[0]
    assert len(ranking.hits) == min(5, len(allowed))
    assert set(h.row for h in ranking.hits) <= set(allowed.tolist())


def test_fusion_ranks_ties_as_scipy_does():
    from scipy.stats import rankdata

    from matcher.rank.fusion import average_ranks

    rng = np.random.default_rng(0)
    cases = [np.array([]), np.array([0.5]), np.zeros(7), np.array([3.0, 1.0, 3.0, 2.0, 1.0, 3.0]),
             -np.arange(9, dtype=float)]
    cases += [rng.integers(0, 4, size=n).astype(float) for n in (2, 10, 257)]  # many ties (BM25 0s, floors)
    cases += [rng.normal(size=n) for n in (3, 1_000)]
    for values in cases:
        ranks = average_ranks(values)
        assert ranks.dtype == np.float64 and np.array_equal(ranks, rankdata(values, method="average")), values


def _new_patent(pid: str, title: str, abstract: str) -> pd.DataFrame:
    row = {c: "" for c in ("id", "title", "abstract", "applicant", "applicant_type", "ipc", "industry", "region",
                           "grant_date", "legal_status", "license_mode", "price", "maturity")}
    row.update(id=pid, title=title, abstract=abstract, applicant="测试大学", applicant_type="高校")
    return pd.DataFrame([row])


def _consistent(coll) -> None:
    n = len(coll)
    assert len(coll.dense) == n and len(coll.lexical) == n
    rows = set(coll.records.index.tolist())
    assert set(coll.dense.ids.tolist()) == rows and set(coll.lexical.ids.tolist()) == rows
    if coll.items is not None:
        assert set(coll.items.rows.tolist()) == rows
    assert coll.records["id"].is_unique


def test_build_upsert_delete_consistency(matcher, tmp_path, config):
    coll = matcher.collection(Kind.PATENT)
    n0 = len(coll)
    added, replaced = matcher.index(Kind.PATENT, _new_patent("NEW-1", "一种蓝莓花青素提取方法", "本发明公开了一种蓝莓花青素的超声辅助提取方法，提取率高。"))
    assert (added, replaced) == (1, 0) and len(coll) == n0 + 1
    _consistent(coll)
    assert matcher.search("蓝莓 花青素 提取", Kind.PATENT, k=1)[0].matches[0].target_id == "NEW-1"

    # re-adding the same id replaces it: no duplicate in FAISS, BM25 or the records
    added, replaced = matcher.index(Kind.PATENT, _new_patent("NEW-1", "一种无人机电池快速更换装置", "本发明公开了一种无人机电池快速更换装置，换电时间短。"))
    assert (added, replaced) == (0, 1) and len(coll) == n0 + 1
    _consistent(coll)
    hits = matcher.search("无人机 电池 更换", Kind.PATENT, k=10)[0].matches
    assert [m.target_id for m in hits].count("NEW-1") == 1 and hits[0].target_id == "NEW-1"
    assert all(m.target_id != "NEW-1" for m in matcher.search("蓝莓 花青素 提取", Kind.PATENT, k=1)[0].matches) or \
        matcher.search("蓝莓 花青素 提取", Kind.PATENT, k=1)[0].matches[0].components["bm25"] == 0

    assert matcher.delete(Kind.PATENT, ["NEW-1", "DEMO-P-049"]) == 2
    _consistent(coll)
    assert len(coll) == n0 - 1
    ids = [m.target_id for m in matcher.search(matcher.query_for(Kind.ENTERPRISE, "DEMO-D-001"), Kind.PATENT, k=59)[0].matches]
    assert "DEMO-P-049" not in ids and "NEW-1" not in ids and len(ids) == 59
    with pytest.raises(MatcherError, match="unknown patent id"):
        matcher.delete(Kind.PATENT, ["NO-SUCH-ID"])

    # the updated index survives save / load unchanged
    path = tmp_path / "index"
    matcher.save(path)
    again = Matcher.load(path, config)
    _consistent(again.collection(Kind.PATENT))
    assert again.collection(Kind.PATENT).ids == coll.ids
    q = again.query_for(Kind.ENTERPRISE, "DEMO-D-002")
    assert [m.target_id for m in again.search(q, Kind.PATENT, k=5)[0].matches] == \
        [m.target_id for m in matcher.search(q, Kind.PATENT, k=5)[0].matches]


def test_failed_save_keeps_the_last_good_index(matcher, demo_index, config, monkeypatch):
    before = sorted(p.relative_to(demo_index) for p in demo_index.rglob("*"))
    matcher.index(Kind.PATENT, _new_patent("NEW-2", "一种测试装置", "一种测试装置。"))

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("matcher.index.lexical.BM25Index.save", boom)
    with pytest.raises(MatcherError, match="disk full.*previous index is unchanged"):
        matcher.save(demo_index)
    assert sorted(p.relative_to(demo_index) for p in demo_index.rglob("*")) == before
    assert "NEW-2" not in Matcher.load(demo_index, config).collection(Kind.PATENT)


def test_mismatched_manifest_is_refused_with_a_clear_message(demo_index, config, tmp_path):
    from matcher.encode import SentenceTransformerEncoder

    class OtherModel:
        model_id = "other-model@1234"
        dim = 512

        def encode(self, texts, **kwargs):
            return np.zeros((len(texts), 512), dtype=np.float32)

    other = MatcherConfig(encoder="use-m3", cache_dir=tmp_path)
    with pytest.raises(IndexMismatchError, match="use-m3"):
        Matcher.load(demo_index, other, encoder=OtherModel())
    with pytest.raises(NotBuiltError, match="matcher build"):
        Matcher.load(tmp_path / "nothing-here", config)
    assert SentenceTransformerEncoder  # the interface the real encoders implement


def test_the_index_keeps_its_configuration(matcher, demo_index, config, tmp_path, monkeypatch, caplog):
    from matcher.index.stored_config import CONFIG_FILE

    monkeypatch.setenv("MATCHER_CACHE_DIR", str(config.cache_dir))  # the cache a load without a config uses
    # round trip: what the index was saved with comes back without any configuration given
    matcher.config = matcher.config.model_copy(update={"pool": 150, "key_terms": 5})
    path = tmp_path / "index"
    matcher.save(path)
    assert (path / CONFIG_FILE).is_file()
    again = Matcher.load(path, encoder=matcher.encoder)
    assert again.config.model_dump(exclude={"cache_dir"}) == matcher.config.model_dump(exclude={"cache_dir"})
    q = again.query_for(Kind.ENTERPRISE, "DEMO-D-002")
    assert [(m.target_id, m.score) for m in again.search(q, Kind.PATENT, k=5)[0].matches] == \
        [(m.target_id, m.score) for m in matcher.search(q, Kind.PATENT, k=5)[0].matches]
    assert len(again.search(q, Kind.PATENT, k=1)[0].matches[0].explanation.shared_terms) <= 5

    # a given configuration overrides the ranking fields it sets (logged) and keeps the saved others
    with caplog.at_level("INFO", logger="matcher.index.stored_config"):
        ranked = Matcher.load(path, MatcherConfig(pool=300, exclude_held=False), encoder=matcher.encoder)
    assert (ranked.config.pool, ranked.config.exclude_held, ranked.config.key_terms) == (300, False, 5)
    assert "pool=300" in caplog.text and "exclude_held=False" in caplog.text

    # ... but may not contradict the index in a field that changes it
    with pytest.raises(IndexMismatchError, match="segment_mode, bm25_k1"):
        Matcher.load(path, MatcherConfig(segment_mode="accurate", bm25_k1=2.0, pool=300), encoder=matcher.encoder)

    # an index saved before configurations were kept loads with the defaults, as before (and says so)
    (path / CONFIG_FILE).unlink()
    caplog.clear()
    with caplog.at_level("INFO", logger="matcher.index.stored_config"):
        old = Matcher.load(path, encoder=matcher.encoder)
    assert old.config.pool == MatcherConfig().pool and "holds no configuration" in caplog.text


def test_the_segmenter_settings_are_checked_on_load(demo_index, config, matcher):
    from matcher.text.segment import Segmenter

    with pytest.raises(IndexMismatchError, match="mode: index 'search', configured 'accurate'"):
        Matcher.load(demo_index, config, encoder=matcher.encoder, segmenter=Segmenter("accurate"))


def test_empty_query_is_rejected(matcher):
    with pytest.raises(MatcherError, match="empty"):
        matcher.search("  ", Kind.PATENT)


def test_enterprise_upsert_and_delete_keep_items_consistent(matcher):
    coll = matcher.collection(Kind.ENTERPRISE)
    n0 = len(coll)
    row = {c: "" for c in ("id", "name", "text", "industry", "region", "size", "budget", "cooperation")}
    row.update(id="NEW-E", name="蓝海无人机有限公司", text="无人机电池、无人机电机的研发、生产；航拍服务")
    matcher.index(Kind.ENTERPRISE, pd.DataFrame([row]))
    _consistent(coll)
    assert coll.items.items_of(coll.rows_of(["NEW-E"])[0])[:2] == ["蓝海无人机有限公司", "无人机电池"]
    row.update(text="茶叶深加工、茶饮料生产")
    matcher.index(Kind.ENTERPRISE, pd.DataFrame([row]))
    _consistent(coll)
    assert "无人机电池" not in coll.items.items_of(coll.rows_of(["NEW-E"])[0])
    hits = matcher.search(matcher.query_for(Kind.ENTERPRISE, "NEW-E"), Kind.PATENT, k=3)[0].matches
    assert any("茶" in m.record["title"] for m in hits)
    matcher.delete(Kind.ENTERPRISE, ["NEW-E"])
    _consistent(coll)
    assert len(coll) == n0 and "NEW-E" not in coll


def test_encoder_ensemble_builds_searches_and_reloads(demo_index, config, demo_patents, demo_enterprises, tmp_path):
    # the test encoder twice, weighted 1 and 0.5, stands in for "USE-m3 + a trained model": the spec, per-part
    # caching, the wider index and the manifest check are the same.
    from matcher.encode import CachedEncoder, EnsembleEncoder

    plain = Matcher.load(demo_index, config)
    spec = f"{config.encoder}+{config.encoder}*0.5"
    ensemble_config = config.model_copy(update={"encoder": spec})
    built = Matcher(ensemble_config)
    assert isinstance(built.encoder, EnsembleEncoder)
    use_part = built.encoder.parts[0][0]
    assert isinstance(use_part, CachedEncoder) and use_part.model_id == plain.encoder.model_id
    built.index(Kind.PATENT, demo_patents)
    built.index(Kind.ENTERPRISE, demo_enterprises)
    assert use_part.stats.misses == 0  # every USE vector came from the cache the plain index filled
    assert built.collection(Kind.PATENT).dim == 2 * plain.collection(Kind.PATENT).dim
    path = tmp_path / "ensemble-index"
    built.save(path)

    reloaded = Matcher.load(path, ensemble_config)
    res = reloaded.search(reloaded.query_for(Kind.ENTERPRISE, "DEMO-D-001"), Kind.PATENT, k=3)[0]
    assert res.matches[0].target_id == "DEMO-P-049"
    assert -1.0 <= res.matches[0].components["dense"] <= 1.0
    assert res.matches[0].explanation.closest_sentence
    with pytest.raises(IndexMismatchError, match=r"\*0\.5"):
        Matcher.load(path, config)  # an index built by the ensemble refuses the plain encoder


def test_a_query_can_leave_out_given_targets(matcher):
    query = matcher.query_for(Kind.ENTERPRISE, "DEMO-D-002")
    scores = {m.target_id: m.score for m in matcher.search(query, Kind.PATENT, k=15, explain=False)[0].matches}
    full = list(scores)
    left_out = (full[0], full[3], "NO-SUCH-PATENT")  # ids not in the index are ignored
    query.exclude = left_out
    kept = matcher.search(query, Kind.PATENT, k=10, explain=False)[0].matches
    assert [m.target_id for m in kept] == [t for t in full if t not in left_out][:10]
    assert [m.rank for m in kept] == list(range(1, 11))
    assert [m.score for m in kept] == [scores[m.target_id] for m in kept]  # the same ranking, two rows dropped
    patent = matcher.query_for(Kind.PATENT, full[0])
    patent.exclude = ("DEMO-D-002",)
    assert "DEMO-D-002" not in [m.target_id for m in matcher.search(patent, Kind.ENTERPRISE, k=40, explain=False)[0].matches]


def test_saved_records_load_with_each_column_in_one_piece(tmp_path):
    frame = pd.DataFrame({"_row": np.arange(6, dtype=np.int64), "id": [f"E{i}" for i in range(6)],
                          "text": ["光伏 组件", "", "锂电池", "陶瓷", "传感器", "机器人"]})
    frame.to_parquet(tmp_path / "records.parquet", index=False, row_group_size=2)  # three row groups
    assert pd.read_parquet(tmp_path / "records.parquet")["text"].array.__arrow_array__().num_chunks == 3
    records = read_parquet_whole(tmp_path / "records.parquet")
    pd.testing.assert_frame_equal(records, pd.read_parquet(tmp_path / "records.parquet"))  # same values and dtypes
    assert {c: records[c].array.__arrow_array__().num_chunks for c in ("id", "text")} == {"id": 1, "text": 1}
