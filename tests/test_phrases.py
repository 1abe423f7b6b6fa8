"""Literal phrase matching: query phrases, the substring index and the phrase scorer, alone and in the engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher.config import FusionConfig
from matcher.engine import Matcher
from matcher.index.substring import SubstringIndex
from matcher.rank.scorers import PhraseScorer
from matcher.schema import Kind
from matcher.text.phrases import query_phrases
from matcher.text.segment import Segmenter

TEXTS = [
    "一种低通滤波电路，用于数字信号解调。",
    "螺旋卷式反渗透膜元件及其制备方法。",
    "反渗透海水淡化装置。",
    "锂离子电池正极材料。",
]


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter()


def test_keyword_chunks_are_kept_whole_and_sentences_are_segmented(segmenter):
    assert query_phrases("通滤波  反渗透膜、ＰＶＤＦ膜", segmenter) == ["通滤波", "反渗透膜", "pvdf膜"]
    long = query_phrases("需要一种能够提高锂离子电池循环寿命的正极材料", segmenter)
    assert "锂离子电池" in long and "需要一种能够提高锂离子电池循环寿命的正极材料" not in long
    assert query_phrases("  ，。 ", segmenter) == []
    assert query_phrases("膜 膜 膜", segmenter) == ["膜"]


def test_substring_index_finds_phrases_jieba_would_split():
    index = SubstringIndex(np.array([10, 11, 12, 13]), TEXTS)
    assert index.rows_containing("通滤波").tolist() == [10]
    assert index.rows_containing("反渗透").tolist() == [11, 12]
    assert index.rows_containing("石墨烯").tolist() == []
    assert index.idf("通滤波") > index.idf("反渗透") > 0
    assert index.idf("石墨烯") == 0.0


def test_phrase_scorer_is_bm25_over_literal_occurrences():
    index = SubstringIndex(np.array([10, 11, 12, 13]), TEXTS)
    scorer = PhraseScorer(index, [["反渗透", "螺旋", "石墨烯"], ["不存在"]])
    first, empty = scorer.candidates([0, 1], size=10)
    assert first.tolist() == [11, 12]  # both contain 反渗透, only 11 also 螺旋
    assert empty.tolist() == []
    scores = scorer.score(0, np.array([13, 12, 11]))
    assert scores[0] == 0 and 0 < scores[1] < scores[2]
    lengths = np.array([len(t) for t in TEXTS], dtype=float)
    norm = 1.2 * (1 - 0.75 + 0.75 * lengths[1] / lengths.mean())
    expected = (index.idf("反渗透") + index.idf("螺旋")) * 2.2 / (1 + norm)
    assert scores[2] == pytest.approx(expected)


def test_repeated_phrases_count_with_saturation():
    texts = ["石墨烯导热膜。", "石墨烯导热膜石墨烯。", "铜箔散热片。", "铝合金外壳。"]
    index = SubstringIndex(np.arange(4), texts, k1=1.2, b=0.0)
    once, twice = PhraseScorer(index, [["石墨烯"]]).score(0, np.array([0, 1]))
    assert once < twice < 2 * once


def test_engine_uses_phrases_when_weighted_and_follows_updates(matcher, config, demo_index):
    weighted = config.model_copy(update={"fusion": {d: FusionConfig(weights={"phrase": 1.0, "bm25": 0.1}) for d in config.fusion}})
    m = Matcher.load(demo_index, weighted, encoder=matcher.encoder)
    patents = m.collection(Kind.PATENT)
    row = {c: "" for c in patents.records.columns if c != "content"}
    row.update(id="NEW-P", title="一种通滤波解调器", abstract="用于数字通信的通滤波解调器。")
    m.index(Kind.PATENT, pd.DataFrame([row]))
    try:
        top = m.search("通滤波", Kind.PATENT, k=1)[0].matches[0]
        assert top.target_id == "NEW-P" and top.components["phrase"] > 0
    finally:
        m.delete(Kind.PATENT, ["NEW-P"])
    res = m.search("通滤波", Kind.PATENT, k=3)[0]
    assert "NEW-P" not in [x.target_id for x in res.matches]
