"""Grading (matcher.grading, `matcher grade`): the held-out evaluation's JSON line, trained models, grades with
provenance stored beside an index, the tier roll-up, verdicts from outcome rows and the legal life of a patent."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from labelled_fixture import write_labelled
from typer.testing import CliRunner

from matcher.errors import NotBuiltError
from matcher.grading import (
    GradingModels,
    grade_patents,
    is_pushable,
    life,
    normalize_maturity,
    read_grades,
    tier,
    train_models,
    verdicts_by_patent,
)
from matcher.grading.labelled import labelled_demands, labelled_offers
from pipelines.main import app

TODAY = date(2026, 1, 1)


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> tuple[Path, Path]:
    return write_labelled(tmp_path_factory.mktemp("labelled"))


@pytest.fixture(scope="module")
def models(labelled) -> GradingModels:
    examples = pd.concat([labelled_offers(labelled[0]), labelled_demands(labelled[1])], ignore_index=True)
    return train_models(examples)


def test_evaluate_prints_a_table_and_the_json_line_last(labelled):
    result = run("grade", "--evaluate", "--offers", labelled[0], "--demands", labelled[1])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    scores = json.loads(lines[-1])
    keys = {"accuracy", "macro_f1", "majority_accuracy", "majority_macro_f1"}
    assert set(scores) >= {"maturity", "sector"} and set(scores["maturity"]) == keys and set(scores["sector"]) == keys
    assert all(0 <= v <= 1 for task in scores.values() for v in task.values())
    # the fixture's words tell the labels apart: the models beat always answering the most frequent label
    assert scores["maturity"]["accuracy"] > scores["maturity"]["majority_accuracy"]
    assert scores["sector"]["macro_f1"] > scores["sector"]["majority_macro_f1"]
    assert "held-out" in result.stdout and "ECE" in result.stdout


def test_models_round_trip_and_predict_calibrated_probabilities(models, tmp_path):
    models.save(tmp_path / "grading")
    loaded = GradingModels.load(tmp_path / "grading")
    tokens = loaded.maturity.tokens(["本项目药物 制剂 胶囊 药效，目前量产 生产线 批量 订单 产能。"])
    assert loaded.maturity.predict(tokens)[0] == ["可以量产"]
    proba = loaded.maturity.predict_proba(tokens)
    assert proba.shape == (1, 4) and proba.sum() == pytest.approx(1.0)
    assert proba == pytest.approx(models.maturity.predict_proba(tokens), abs=1e-4)  # weights stored as float32
    sectors = loaded.sectors.predict(tokens)
    assert sectors.loc[0, "section"] == "制造业" and sectors.loc[0, "division"] == "医药制造业"


def test_missing_models_and_labelled_data_are_clear_errors(tmp_path):
    with pytest.raises(Exception, match="matcher grade"):
        GradingModels.load(tmp_path / "none")
    result = run("grade", "--evaluate", "--offers", tmp_path / "missing.jsonl")
    assert result.exit_code == 2 and "missing.jsonl" in result.output and "Traceback" not in result.output


def test_maturity_spellings():
    assert [normalize_maturity(v) for v in ("中试", "实验室阶段", "可量产", "已有样品", "", "说不清")] == \
        ["通过中试", "正在研发", "可以量产", "已有样品", "", ""]


def test_grades_carry_their_sources(models):
    patents = pd.DataFrame([
        {"id": "P1", "title": "药物制剂", "abstract": "一种胶囊制剂，已有样品。", "maturity": "中试",
         "legal_status": "有效", "filing_date": "2020-01-01", "patent_type": "发明", "license_mode": "开放许可"},
        {"id": "P2", "title": "水稻育苗", "abstract": "种植 品种 水稻 育苗，目前量产 生产线 批量 订单 产能。",
         "ipc": "A01G 9/02", "prospect": "88"},
        {"id": "P3", "title": "旧专利", "abstract": "一种软件平台。", "legal_status": "未缴年费终止"},
    ])
    demands = pd.DataFrame([{"id": f"D{i}", "name": "需求", "text": "药物 制剂", "industry": "制造业"} for i in range(3)])
    grades = grade_patents(patents, models, demands=demands, today=TODAY).set_index("id")
    assert grades.loc["P1", "maturity"] == "通过中试" and grades.loc["P1", "maturity_source"] == "自评（输入）"
    assert grades.loc["P2", "maturity_source"] == "模型估计" and 0 < grades.loc["P2", "maturity_confidence"] <= 1
    assert grades.loc["P2", "section"] == "农、林、牧、渔业" and grades.loc["P2", "section_source"].startswith("IPC")
    assert grades.loc["P2", "prospect"] == 88 and grades.loc["P2", "prospect_source"] == "自评（输入）"
    assert "需求 3 条" in grades.loc["P1", "prospect_reason"] and grades.loc["P1", "prospect_source"] == "规则估计"
    assert grades.loc["P1", "remaining_years"] == pytest.approx(14.0, abs=0.1)
    assert grades.loc["P3", "tier"] == "E" and not grades.loc["P3", "pushable"]
    assert "未缴年费" in grades.loc["P3", "tier_reason"]
    assert grades.loc["P1", "tier"] in "ABCD" and grades.loc["P1", "tier_reason"]


def test_enterprises_verdicts_lower_maturity_and_prospect(models):
    patent = pd.DataFrame([{"id": "P1", "title": "药物", "abstract": "药物 制剂", "maturity": "已有样品"}])
    rows = [{"patent_id": "P1", "status": "已拒绝", "reason": "技术不成熟"},
            {"patent_id": "P1", "status": "已拒绝", "reason": "技术不成熟"},
            {"patent_id": "P1", "status": "待推送", "reason": None}]
    verdicts = verdicts_by_patent(rows)
    assert verdicts["P1"].pushed == 2 and verdicts["P1"].immature == 2
    before = grade_patents(patent, models, today=TODAY).iloc[0]
    after = grade_patents(patent, models, verdicts=verdicts, today=TODAY).iloc[0]
    assert after["maturity"] == "通过中试" and "企业反馈" in after["maturity_source"]
    assert after["prospect"] < before["prospect"] and "企业反馈 -10" in after["prospect_reason"]
    assert after["verdicts"].startswith("推送 2 次")


def test_tier_roll_up():
    assert tier(80, "可以量产", True)[0] == "A"
    assert tier(80, "通过小试", True)[0] == "B"  # A needs at least 已有样品
    assert tier(56, "通过小试", True)[0] == "B"
    assert tier(45, "正在研发", True)[0] == "C"
    assert tier(45, "", True)[0] == "D"  # maturity unknown
    assert tier(20, "可以量产", True)[0] == "D"
    name, reason = tier(99, "可以量产", False, "保护期已届满（2020-01-01）")
    assert name == "E" and "届满" in reason


def test_legal_life_and_pushability():
    assert not is_pushable({"legal_status": "视为撤回"}, TODAY)
    assert not is_pushable({"legal_status": "无效"}, TODAY)
    assert not is_pushable({"patent_type": "实用新型", "filing_date": "2014-05-01"}, TODAY)  # 10 years
    assert is_pushable({"patent_type": "发明", "filing_date": "2014-05-01"}, TODAY)  # 20 years
    assert not is_pushable({"id": "CN103000000A", "grant_date": "2005-03-01"}, TODAY)  # at most 20 years after grant
    assert is_pushable({}, TODAY)  # nothing known: nothing says no
    assert life({"id": "ZL201720001285.X"}, TODAY).patent_type == "实用新型"
    bound = life({"legal_status": "有效", "grant_date": "2021-06-15"}, TODAY)
    assert bound.expiry_bound and "至多" in bound.reason


def test_grade_index_stores_the_grades_table(demo_index, labelled, tmp_path):
    index = shutil.copytree(demo_index, tmp_path / "index")
    with pytest.raises(NotBuiltError, match="matcher grade --index"):
        read_grades(index)
    result = run("grade", "--index", index, "--models", tmp_path / "models", "--offers", labelled[0],
                 "--demands", labelled[1], "--chains", Path(__file__).parent.parent / "config" / "chains.example.toml")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "models" / "maturity").is_dir()  # trained on first use
    grades = read_grades(index)
    patents = pd.read_parquet(index / "patent" / "records.parquet")
    assert set(grades["id"]) == set(patents["id"])
    assert grades["tier"].isin(list("ABCDE")).all() and grades["prospect"].between(0, 100).all()
    assert grades["maturity_source"].str.startswith("自评").any() and grades["chains"].ne("").any()
    assert grades["section"].ne("").all()


def test_the_shipped_models_are_read_when_none_were_trained(monkeypatch, tmp_path):
    monkeypatch.setattr("matcher.grading.models.DEFAULT_MODELS", tmp_path / "empty")
    shipped = GradingModels.load()
    assert set(shipped.maturity.classes) <= {"正在研发", "通过小试", "通过中试", "已有样品", "可以量产"}
    assert "制造业" in shipped.sectors.section.classes and shipped.sectors.division is None
    assert shipped.maturity.card["texts"] == 2812  # trained on every labelled offer of ../shared
