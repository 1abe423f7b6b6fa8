"""Open-licence campaigns (MMR spread, contact rules, one-step shortlist) and the weekly digest, through the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.engine import Matcher
from matcher.office.campaigns import CAMPAIGN_HEADERS, build_campaign, mmr, similarity
from matcher.office.contacts import contact_history
from matcher.office.digest import DIGEST_HEADERS, weekly_digest
from matcher.office.workbook import officer_table
from matcher.tracking import PUSHED, TrackingStore
from pipelines.main import app

PATENT = "DEMO-P-001"  # 开放许可, 8万元


@pytest.fixture(scope="module")
def matcher(demo_index):
    return Matcher.load(demo_index)


@pytest.fixture()
def store(tmp_path):
    return TrackingStore(f"sqlite:///{tmp_path / 'tracking.sqlite'}")


def test_mmr_trades_relevance_for_spread():
    rel = np.array([1.0, 0.95, 0.6])
    sim = similarity(["浙江", "浙江", "广东"], ["制造业", "制造业", "制造业"])
    assert sim[0, 1] == 1.0 and sim[0, 2] == 0.5
    assert [i for i, _ in mmr(rel, sim, 2, lam=1.0)] == [0, 1]
    assert [i for i, _ in mmr(rel, sim, 2, lam=0.5)] == [0, 2]  # the second 浙江 firm waits
    assert similarity(["", ""], ["未标注", "未标注"]).max() == 0.0  # unknown is never "the same"


def test_a_campaign_spreads_over_regions_and_skips_recent_contacts(matcher, store):
    plain = build_campaign(matcher, PATENT, n=6, pool=40, lam=1.0)
    spread = build_campaign(matcher, PATENT, n=6, pool=40, lam=0.3)
    assert len(spread.rows) == 6 and spread.rows["enterprise_id"].is_unique
    assert spread.rows["region"].nunique() >= plain.rows["region"].nunique()
    assert list(plain.rows["engine_rank"]) == sorted(plain.rows["engine_rank"])  # lam 1: the engine's order
    # officers read 匹配度 (0-100) as on every page, never the engine's raw score
    shown = officer_table(spread.rows, CAMPAIGN_HEADERS)
    assert shown["匹配度"].between(0, 100).all() and "score" not in shown and "匹配分" not in shown
    first = plain.rows["enterprise_id"].iloc[0]
    item = store.add("DEMO-P-002", first, user="test")
    store.update(item.id, item.version, user="test", status=PUSHED)
    again = build_campaign(matcher, PATENT, n=6, pool=40, lam=1.0, store=store, skip_days=30)
    assert first not in set(again.rows["enterprise_id"])
    assert again.skipped.set_index("enterprise_id").at[first, "reason"].startswith("0 天前已联系")
    # with no waiting days, the weekly cap of one push leaves it out too
    capped = build_campaign(matcher, PATENT, n=6, pool=40, store=store, skip_days=0, weekly_cap=1)
    assert "每周上限 1" in capped.skipped.set_index("enterprise_id").at[first, "reason"]
    free = build_campaign(matcher, PATENT, n=6, pool=40, store=store, skip_days=0, weekly_cap=0)
    assert first in set(free.rows["enterprise_id"])


def test_campaign_command_exports_and_adds_to_the_shortlist(demo_index, tmp_path):
    url = f"sqlite:///{tmp_path / 'tracking.sqlite'}"
    args = ["campaign", "--patent", PATENT, "--index-dir", str(demo_index), "--out", str(tmp_path), "--n", "5",
            "--database-url", url, "--add", "--user", "officer"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "shortlist: 5 pairs added as 待推送, 0 already there" in result.output
    book = pd.read_excel(tmp_path / "campaign_DEMO-P-001.xlsx", sheet_name=None)
    assert list(book) == ["封面", "推广企业", "跳过的企业"] and len(book["推广企业"]) == 5
    cover = dict(zip(book["封面"]["项目"], book["封面"]["内容"]))
    assert cover["许可方式"] == "开放许可" and cover["企业数"] == "5"
    items = TrackingStore(url).frame()
    assert set(items["enterprise_id"]) == set(book["推广企业"]["企业编号"]) and (items["status"] == "待推送").all()
    # the next campaign leaves those five out: they are on the shortlist and count in this week's pushes
    again = CliRunner().invoke(app, args[:-3], env={"COLUMNS": "200"})
    assert again.exit_code == 0, again.output
    second = pd.read_csv(tmp_path / "campaign_DEMO-P-001.csv", encoding="utf-8-sig")
    assert not set(second["企业编号"]) & set(items["enterprise_id"])


def test_a_weekly_digest_leaves_out_what_was_offered(matcher, store):
    d = weekly_digest(matcher, "DEMO-D-001", m=3)
    assert len(d.rows) == 3 and d.rows["licence_line"].str.startswith("许可匹配").all()
    assert officer_table(d.rows, DIGEST_HEADERS)["匹配度"].between(0, 100).all()
    store.add(d.rows["patent_id"].iloc[0], "DEMO-D-001", user="test")
    later = weekly_digest(matcher, "DEMO-D-001", m=3, contact=contact_history(store)["DEMO-D-001"])
    assert d.rows["patent_id"].iloc[0] not in set(later.rows["patent_id"]) and len(later.rows) == 3
    assert later.left_out["已在推送清单中"] == 1
    fitting = weekly_digest(matcher, "DEMO-D-001", m=3, min_fit=2)
    assert (fitting.rows["licence_fit"].isin(["契合", "未知"])).all()


def test_digest_command_writes_one_workbook_per_enterprise(demo_index, tmp_path):
    url = f"sqlite:///{tmp_path / 'tracking.sqlite'}"
    result = CliRunner().invoke(app, ["digest", "--enterprise", "DEMO-D-002", "--enterprise", "DEMO-C-001", "--m", "4",
                                      "--index-dir", str(demo_index), "--out", str(tmp_path), "--database-url", url],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    books = sorted(tmp_path.glob("digest_*.xlsx"))
    assert [b.name.split("_")[1] for b in books] == ["DEMO-C-001", "DEMO-D-002"]
    for book in books:
        sheets = pd.read_excel(book, sheet_name=None)
        assert list(sheets) == ["封面", "推荐专利"] and len(sheets["推荐专利"]) == 4
    bad = CliRunner().invoke(app, ["digest", "--enterprise", "NOPE", "--index-dir", str(demo_index), "--out",
                                   str(tmp_path), "--database-url", url])
    assert bad.exit_code == 2 and "no enterprise or demand with id 'NOPE'" in bad.output


def test_the_terms_editors_set_win_over_the_input_columns(matcher, store):
    from matcher.tracking.terms import set_terms

    # DEMO-D-002 (biodegradable bags, budget 30万元) is DEMO-P-001's demand; DEMO-P-001 is 开放许可 at 8万元 in the input
    plain = weekly_digest(matcher, "DEMO-D-002", m=10, depth=60)
    assert "价格 8万元 ≤ 预算 30万元" in plain.rows.set_index("patent_id").at["DEMO-P-001", "licence_line"]
    set_terms(store, "DEMO-P-001", 0, user="editor", license_mode="独占", price="500万元")
    after = weekly_digest(matcher, "DEMO-D-002", m=10, depth=60, terms=__import__(
        "matcher.tracking.terms", fromlist=["current_terms"]).current_terms(store))
    row = after.rows.set_index("patent_id").loc["DEMO-P-001"]
    assert row["license_mode"] == "独占" and row["licence_fit"] == "不符" and "超出预算" in row["licence_line"]
    camp = build_campaign(matcher, "DEMO-P-001", n=3, pool=20, store=store)
    assert camp.patent["license_mode"] == "独占" and camp.cover()[2] == ("许可方式", "独占")
