"""The demand catalogue (专利需求信息目录): demands told from companies, coverage verdicts, the export with its cover."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.engine import Matcher
from matcher.office.catalogue import NONE, WEAK, WELL, build_catalogue
from matcher.office.demands import demand_mask
from pipelines.main import app


@pytest.fixture(scope="module")
def matcher(demo_index):
    return Matcher.load(demo_index)


def test_demands_are_told_from_companies():
    frame = pd.DataFrame({"id": ["D1", "C1", "R1", "D2"],
                          "name": ["LED手电筒红外开关改进", "青禾膜材料科技有限公司", "华为技术有限公司", "防起球的工艺改进"],
                          "capital": ["", "", "500(万元人民币)", ""]})
    assert demand_mask(frame).tolist() == [True, False, False, True]
    assert demand_mask(frame, r"^D\d").tolist() == [True, False, False, True]
    with pytest.raises(ValueError, match="not a valid regular expression"):
        demand_mask(frame, "(")


def test_every_demo_demand_gets_a_verdict_and_its_best_patents(matcher):
    cat = build_catalogue(matcher, k=3, use_model=False)
    assert set(cat.demands["demand_id"]) == {f"DEMO-D-{i:03d}" for i in range(1, 26)}
    assert set(cat.demands["coverage"]) <= {WELL, WEAK, NONE} and cat.demands["coverage"].nunique() == 3
    assert cat.method.startswith("score distribution")
    # the verdict follows the best score: every 充分满足 demand scores above every 无合适专利 one
    well = cat.demands[cat.demands["coverage"] == WELL]["best_score"]
    none = cat.demands[cat.demands["coverage"] == NONE]["best_score"]
    assert well.min() > none.max()
    assert (cat.pairs.groupby("demand_id").size() == 3).all()
    scarf = cat.pairs[cat.pairs["demand_id"] == "DEMO-D-001"]
    assert "licence_line" in scarf and scarf["licence_line"].str.startswith("许可匹配").all()
    summary = cat.summary()
    assert summary["demands"].sum() == 25 and (summary[[WELL, WEAK, NONE]].sum(axis=1) == summary["demands"]).all()
    assert set(cat.unanswered()["demand_id"]) == set(cat.demands[cat.demands["coverage"] == NONE]["demand_id"])


def test_catalogue_command_writes_the_workbook_with_a_cover(demo_index, tmp_path):
    result = CliRunner().invoke(app, ["catalogue", "--index-dir", str(demo_index), "--out", str(tmp_path), "-k", "3"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "demand catalogue: 25 demands" in result.output
    book = pd.read_excel(tmp_path / "demand_catalogue.xlsx", sheet_name=None)
    assert list(book) == ["封面", "领域汇总", "需求目录", "最佳专利", "待攻关需求"]
    cover = dict(zip(book["封面"]["项目"], book["封面"]["内容"]))
    assert cover["标题"] == "专利需求信息目录" and cover["需求数"] == "25"
    assert cover["判定方法"].startswith("本库匹配分分布（相对分级）")
    assert len(book["需求目录"]) == 25 and set(book["需求目录"]["满足程度"]) <= {WELL, WEAK, NONE}
    assert len(book["最佳专利"]) == 75
    # officers read one 匹配度 (0-100) as on every workbench page, never the engine's raw scores
    for sheet in ("需求目录", "最佳专利"):
        degree = book[sheet]["最高匹配度" if sheet == "需求目录" else "匹配度"]
        assert degree.between(0, 100).all() and "匹配分" not in book[sheet] and "最高匹配分" not in book[sheet]
    flat = pd.read_csv(tmp_path / "demand_catalogue.csv", encoding="utf-8-sig")
    assert len(flat) == 25 and "满足程度" in flat


def test_an_index_without_demands_is_a_message(demo_index, tmp_path):
    result = CliRunner().invoke(app, ["catalogue", "--index-dir", str(demo_index), "--out", str(tmp_path),
                                      "--demand-ids", "^NOPE"])
    assert result.exit_code == 2 and "no enterprise record of the index is a demand" in result.output
    assert not (tmp_path / "demand_catalogue.xlsx").exists()
