"""The patents' grades and the pairs' licence fit where officers meet them: the tier filter of search and of the
nightly job, the export's columns, the nightly-lists page's columns and filters, and the match cards (AppTest)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from app_session import signed_in_app
from typer.testing import CliRunner

from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.grading import grade_patents, write_grades
from matcher.grading.tiers import grade_text
from matcher.office.pair_columns import OFFICE_COLUMNS
from matcher.schema import Kind
from pipelines.main import app

BATCH = "matcher/workbench/page_files/batch.py"


@pytest.fixture(scope="module")
def graded_index(demo_index, demo_patents, demo_enterprises, tmp_path_factory) -> Path:
    """A copy of the demo index with its patents graded (rules and the input columns; no models: fast)."""
    index = Path(shutil.copytree(demo_index, tmp_path_factory.mktemp("graded") / "index"))
    write_grades(index, grade_patents(demo_patents, None, demands=demo_enterprises))
    return index


@pytest.fixture(scope="module")
def tiers(graded_index) -> pd.Series:
    """patent id -> tier."""
    grades = Matcher.load(graded_index).grades()
    return grades.set_index("id")["tier"]


def test_search_filters_on_tiers(graded_index, demo_index, tiers):
    matcher = Matcher.load(graded_index)
    top = tiers[tiers.isin(["A", "B"])].index
    assert 0 < len(top) < len(tiers)  # the demo stock spans several tiers
    query = matcher.query_for(Kind.ENTERPRISE, "DEMO-D-002")
    result = matcher.search(query, Kind.PATENT, k=50, filters={"tier": ["A", "B"]}, explain=False)[0]
    assert result.matches and {m.target_id for m in result.matches} <= set(top)
    assert result.available == len(top)
    with pytest.raises(MatcherError, match="unknown tier 'Z'"):
        matcher.search(query, Kind.PATENT, filters={"tier": "Z"})
    with pytest.raises(MatcherError, match="matcher grade --index"):  # never graded: a clear message
        Matcher.load(demo_index).search(query, Kind.PATENT, filters={"tier": "A"})


def test_a_graded_duplicate_is_never_ranked(graded_index, tmp_path):
    """A patent the grades call unpushable (a duplicate merged into another record) leaves every list towards patents,
    unless the office asks for the whole stock (only_pushable False)."""
    index = Path(shutil.copytree(graded_index, tmp_path / "index"))
    matcher = Matcher.load(index)
    query = matcher.query_for(Kind.ENTERPRISE, "DEMO-D-002")
    top = matcher.search(query, Kind.PATENT, k=3, explain=False)[0].matches[0].target_id
    grades = matcher.grades().copy()
    grades.loc[grades["id"] == top, ["pushable", "tier"]] = [False, "E"]
    write_grades(index, grades)
    matcher = Matcher.load(index)
    ranked = [m.target_id for m in matcher.search(query, Kind.PATENT, k=80, explain=False)[0].matches]
    assert top not in ranked and len(ranked) == matcher.count(Kind.PATENT) - 1
    matcher.config = matcher.config.model_copy(update={"only_pushable": False})
    assert matcher.search(query, Kind.PATENT, k=3, explain=False)[0].matches[0].target_id == top


def test_the_nightly_export_carries_grades_and_licence_fit(graded_index, tiers, tmp_path):
    run = CliRunner().invoke(app, ["match", "--index-dir", str(graded_index), "--out", str(tmp_path), "-k", "5",
                                   "--formats", "parquet,csv"], env={"COLUMNS": "200"})
    assert run.exit_code == 0, run.output
    e2p = pd.read_parquet(tmp_path / "matches" / "enterprise_to_patent.parquet")
    p2e = pd.read_parquet(tmp_path / "matches" / "patent_to_enterprise.parquet")
    for frame, patent in ((e2p, "target_id"), (p2e, "query_id")):
        assert set(OFFICE_COLUMNS) <= set(frame.columns)
        assert (frame["patent_tier"] == frame[patent].map(tiers)).all()  # the patent's tier, whichever side it is on
        assert frame["patent_prospect"].between(0, 100).all() and frame["patent_tier_reason"].ne("").all()
        assert set(frame["licence_fit"]) <= {"契合", "可协商", "不符", "未知"}
    # demands state cooperation modes and budgets, the demo patents licence modes and prices: the fit is known
    demand_rows = e2p[e2p["query_id"].str.startswith("DEMO-D-")]
    assert demand_rows["licence_fit"].isin(["契合", "可协商", "不符"]).mean() > 0.5
    assert demand_rows["licence_line"].str.startswith("许可匹配：").all()
    csv = pd.read_csv(tmp_path / "matches" / "enterprise_to_patent.csv", encoding="utf-8-sig", keep_default_na=False)
    assert list(csv["patent_tier"]) == list(e2p["patent_tier"])
    # --patent-filter tier=A,B keeps only those tiers' patents in the enterprises' lists
    only = CliRunner().invoke(app, ["match", "--index-dir", str(graded_index), "--out", str(tmp_path / "ab"), "-k", "5",
                                    "--formats", "parquet", "--patent-filter", "tier=A,B"], env={"COLUMNS": "200"})
    assert only.exit_code == 0, only.output
    kept = pd.read_parquet(tmp_path / "ab" / "matches" / "enterprise_to_patent.parquet")
    assert len(kept) and set(kept["patent_tier"]) <= {"A", "B"}


def test_the_grade_line_names_each_source():
    row = {"tier": "B", "tier_reason": "重点推送：产业化前景 63 分 ≥ 55，成熟度 通过中试", "maturity": "通过中试",
           "maturity_source": "模型估计", "maturity_confidence": 0.62, "prospect": 63.2, "prospect_source": "规则估计"}
    assert grade_text(row) == ("分级 B 重点推送：产业化前景 63 分 ≥ 55，成熟度 通过中试｜技术成熟度 通过中试（模型估计，置信 62%）｜"
                               "产业化前景 63 分（规则估计）")
    assert grade_text({"tier": ""}) == ""


def test_cards_show_grades_and_licence_fit_and_the_sidebar_filters_tiers(monkeypatch, graded_index, cache_dir,
                                                                          tiers, tmp_path):
    at = signed_in_app(monkeypatch, graded_index, cache_dir, tmp_path)
    at.selectbox(key="q_enterprise").select("DEMO-D-002").run()
    assert not at.exception and not at.error
    lines = [m.value for m in at.markdown if m.value.startswith("<div class='mw-sent'>")]
    assert any("分级 " in line and "技术成熟度" in line and "产业化前景" in line for line in lines)
    assert any("许可匹配：" in line for line in lines)
    at.multiselect(key="f_p_tier").select("A").run()
    assert not at.exception
    shown = at.dataframe[0].value["专利号"]
    assert len(shown) and set(shown.map(tiers)) == {"A"}


def test_nightly_lists_page_shows_and_filters_tiers_and_licence_fit(monkeypatch, graded_index, cache_dir, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["match", "--index-dir", str(graded_index), "--out", str(out), "-k", "5",
                                      "--formats", "parquet"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("MATCHER_EXPORT_DIR", str(out / "matches"))
    at = signed_in_app(monkeypatch, graded_index, cache_dir, tmp_path)
    at.switch_page(BATCH).run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert {"分级", "产业化前景", "许可契合", "先免费后有偿"} <= set(table.columns) and table["分级"].ne("").all()
    at.multiselect(key="b_tier").select("B").run()
    assert set(at.dataframe[0].value["分级"]) == {"B"}
    at.multiselect(key="b_tier").unselect("B").run()
    at.multiselect(key="b_licence_fit").select("契合").run()
    assert set(at.dataframe[0].value["许可契合"]) == {"契合"}


def test_grading_again_reranks_the_lists_towards_patents(graded_index, tmp_path):
    """New grades (a duplicate merged) change which patents may be ranked: the next nightly run in the same folder ranks
    enterprise -> patent again and writes what a full run writes."""
    index = Path(shutil.copytree(graded_index, tmp_path / "index"))
    out = tmp_path / "out"
    args = ["match", "--index-dir", str(index), "--out", str(out), "-k", "5", "--formats", "parquet"]
    assert CliRunner().invoke(app, args).exit_code == 0
    first = pd.read_parquet(out / "matches" / "enterprise_to_patent.parquet")
    grades = Matcher.load(index).grades().copy()
    top = first["target_id"].value_counts().index[0]
    grades.loc[grades["id"] == top, ["pushable", "tier"]] = [False, "E"]
    write_grades(index, grades)
    again = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert again.exit_code == 0, again.output
    assert "every list ranked again" in again.output
    incremental = pd.read_parquet(out / "matches" / "enterprise_to_patent.parquet")
    assert top not in set(incremental["target_id"])
    full = CliRunner().invoke(app, [*args[:4], str(tmp_path / "full"), *args[5:], "--full"])
    assert full.exit_code == 0
    pd.testing.assert_frame_equal(incremental, pd.read_parquet(tmp_path / "full" / "matches" / "enterprise_to_patent.parquet"))
