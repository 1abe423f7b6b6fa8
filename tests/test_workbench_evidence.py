"""Shared-terms evidence (matcher/explain.py): only informative terms, at most the best few (issue 25, item 9)."""

from __future__ import annotations

from matcher.explain import SentenceLocator, generic_terms, shared_key_terms
from matcher.index.collection import CONTENT
from matcher.schema import Kind


def test_generic_and_common_words_are_never_evidence():
    query = ["生产", "提升", "材料", "结构", "工艺", "聚乳酸", "薄膜", "撕裂", "韧性", "增韧剂", "共混", "注塑"]
    doc = list(query)
    idf = {t: 3.0 for t in query} | {"薄膜": 0.4}  # 薄膜: most records hold it
    terms = shared_key_terms(query, doc, idf)
    assert not {"生产", "提升", "材料", "结构", "工艺"} & set(terms)  # the stoplist (a data file)
    assert "薄膜" not in terms  # under the IDF floor
    assert len(terms) == 5  # the best few only
    assert {"生产", "提升", "材料", "结构", "工艺", "技术", "方法", "系统", "装置"} <= generic_terms()


def test_engine_evidence_on_the_demo_index(loaded):
    result = loaded.search(loaded.query_for(Kind.ENTERPRISE, "DEMO-D-002"), Kind.PATENT, k=10)[0]
    shown = [t for m in result.matches for t in m.explanation.shared_terms]
    assert shown and all(len(m.explanation.shared_terms) <= 5 for m in result.matches)
    assert not set(shown) & generic_terms()
    assert "购物袋" in result.matches[0].explanation.shared_terms


def test_the_closest_sentence_reads_kept_sentence_vectors_without_asking_the_encoder_again(loaded):
    """The sentence locator keeps the most recently used sentence vectors (bounded) and gives the same sentences and
    similarities as encoding them afresh."""
    encoder = loaded.encoder
    asked: list[int] = []

    class Counting:
        def encode(self, texts, **kwargs):
            asked.append(len(texts))
            return encoder.encode(texts, **kwargs)

    patents = loaded.collection(Kind.PATENT).records[CONTENT].tolist()[:12]
    others = loaded.embed(loaded.collection(Kind.ENTERPRISE).records[CONTENT].tolist()[:12])
    reference = SentenceLocator(encoder, memo_sentences=0).closest(patents, others)
    locator = SentenceLocator(Counting(), memo_sentences=10_000)
    assert locator.closest(patents, others) == reference and len(asked) == 1
    assert locator.closest(patents[::-1], others[::-1]) == reference[::-1] and len(asked) == 1  # all kept
    small = SentenceLocator(Counting(), memo_sentences=5)
    for _ in range(2):
        assert small.closest(patents, others) == reference and len(small._memo) <= 5
    assert len(asked) == 3  # a memory of 5 sentences keeps too few to spare the second call
    assert loaded.explainer.locator is loaded.explainer.locator  # one locator, kept, per engine
