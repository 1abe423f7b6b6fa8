"""Inventory (盘点入库, `matcher inventory`): counts per applicant / sector / tier, duplicates merged with a note,
expired and withdrawn patents flagged and never pushable, pushes and outcomes from the tracking database."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pandas as pd
from typer.testing import CliRunner

from matcher.grading import find_duplicates, grade_patents, is_pushable
from matcher.grading.inventory import COUNT_COLUMNS, take_inventory
from matcher.tracking import TrackingStore
from pipelines.main import app

TODAY = date(2026, 1, 1)
STOCK = pd.DataFrame([
    {"id": "CN112345678A", "title": "一种药物制剂", "abstract": "胶囊", "applicant": "甲大学", "applicant_type": "高校",
     "legal_status": "有效", "ipc": "A61K 9/48"},
    {"id": "cn 112345678 a", "title": "药物制剂（另一来源）", "abstract": "胶囊", "applicant": "甲大学",
     "applicant_type": "高校", "ipc": "A61K 9/48"},
    {"id": "P3", "title": "一种 水稻育苗 方法", "abstract": "育苗", "applicant": "乙大学；丙公司", "applicant_type": "高校",
     "ipc": "A01G 9/02"},
    {"id": "P4", "title": "一种水稻育苗方法", "abstract": "育苗（重复录入）", "applicant": "乙大学",
     "applicant_type": "高校", "ipc": "A01G 9/02"},
    {"id": "P5", "title": "过期的实用新型", "abstract": "一种支架", "applicant": "甲大学", "applicant_type": "高校",
     "patent_type": "实用新型", "filing_date": "2012-03-01"},
    {"id": "P6", "title": "撤回的申请", "abstract": "一种方法", "applicant": "丙公司", "applicant_type": "企业",
     "legal_status": "视为撤回"},
])


def test_duplicates_across_sources_are_found():
    dups = find_duplicates(STOCK).set_index("id")
    assert dups.loc["cn 112345678 a", "duplicate_of"] == "CN112345678A"
    assert dups.loc["cn 112345678 a", "rule"] == "同一公开号"
    assert dups.loc["P4", "duplicate_of"] == "P3" and dups.loc["P4", "rule"] == "同名同申请人"
    assert len(dups) == 2


def test_expired_and_withdrawn_are_not_pushable():
    records = STOCK.set_index("id")
    assert not is_pushable(records.loc["P5"].to_dict(), TODAY)
    assert not is_pushable(records.loc["P6"].to_dict(), TODAY)
    assert is_pushable(records.loc["P3"].to_dict(), TODAY)


def test_inventory_merges_duplicates_and_counts_outcomes():
    grades = grade_patents(STOCK, today=TODAY)
    assert grades.set_index("id").loc["P4", "tier"] == "E"  # a duplicate is never pushed twice
    assert "重复" in grades.set_index("id").loc["P4", "pushable_reason"]
    outcomes = [{"patent_id": "P3", "status": "已许可", "reason": None},
                {"patent_id": "CN112345678A", "status": "已拒绝", "reason": "价格"},
                {"patent_id": "P5", "status": "待推送", "reason": None}]
    stock = take_inventory(STOCK, grades, outcomes)
    assert stock.totals["records"] == 6 and stock.totals["duplicates"] == 2 and stock.totals["patents"] == 4
    assert stock.totals["alive"] == 2 and stock.totals["not_pushable"] == 2
    assert stock.totals["pushed"] == 2 and stock.totals["success"] == 1
    by_applicant = stock.by_applicant.set_index("applicant")
    assert by_applicant.loc["甲大学", "patents"] == 2 and by_applicant.loc["甲大学", "not_pushable"] == 1
    assert by_applicant.loc["丙公司", "patents"] == 2  # P3 (co-applicant) and P6
    assert by_applicant.loc["乙大学", "success"] == 1
    assert set(stock.not_pushable["id"]) == {"P5", "P6"}
    assert stock.by_sector.set_index("section").loc["农、林、牧、渔业", "patents"] == 1
    assert stock.by_tier["patents"].sum() == 4


def test_inventory_command_on_the_demo_index(demo_index, tmp_path):
    index = shutil.copytree(demo_index, tmp_path / "index")
    db = f"sqlite:///{tmp_path / 'tracking.sqlite'}"
    store = TrackingStore(db)
    item = store.add("DEMO-P-001", "DEMO-D-002", user="测试")
    store.update(item.id, item.version, user="测试", status="已推送")
    store.dispose()
    result = CliRunner().invoke(app, ["inventory", "--index", str(index), "--tracking-db", db, "--json"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary) == {"totals", "by_tier", "by_sector", "duplicates", "not_pushable"}
    patents = len(pd.read_parquet(index / "patent" / "records.parquet"))
    assert summary["totals"]["records"] == patents and summary["totals"]["pushed"] == 1
    assert set(summary["totals"]) >= set(COUNT_COLUMNS)
    assert sum(t["patents"] for t in summary["by_tier"].values()) == summary["totals"]["patents"]
    assert "by applicant" in result.stdout and "by tier" in result.stdout


def test_inventory_without_an_index_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["inventory", "--index", str(tmp_path / "none")])
    assert result.exit_code == 2 and "matcher build" in result.output and "Traceback" not in result.output


def test_the_engine_never_ranks_a_patent_that_may_not_be_pushed(config, demo_patents):
    from matcher.engine import Matcher

    patents = demo_patents.head(6).copy()
    patents.loc[patents.index[0], "legal_status"] = "视为撤回"
    patents.loc[patents.index[1], ["patent_type", "filing_date"]] = ["实用新型", "2010-01-01"]
    matcher = Matcher(config)
    matcher.index("patent", patents)
    query = patents.iloc[0]["title"] + patents.iloc[0]["abstract"]
    found = {m.target_id for m in matcher.search(query, "patent", k=10, explain=False)[0].matches}
    assert found == set(patents["id"].iloc[2:])
