"""AppTest tests of the office pages: 需求目录 (demand catalogue) and 推广活动 (campaign, one-click shortlist, digest)."""

from __future__ import annotations

import pandas as pd
from streamlit.testing.v1 import AppTest

from matcher.tracking import TrackingStore
from test_app import APP, TIMEOUT, VIEWER, app_env, login  # noqa: F401 - app_env is a fixture

CATALOGUE = "matcher/workbench/page_files/catalogue.py"
CAMPAIGN = "matcher/workbench/page_files/campaign.py"


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_catalogue_page_shows_coverage_and_the_unanswered(app_env):
    at = login(AppTest.from_file(APP, default_timeout=TIMEOUT))
    at.switch_page(CATALOGUE).run()
    _clean(at)
    assert at.title[0].value == "专利需求信息目录"
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {"需求", "充分满足", "部分满足", "无合适专利"}
    assert int(metrics["需求"]) == sum(int(metrics[k]) for k in ("充分满足", "部分满足", "无合适专利"))
    demands = at.dataframe[0].value
    assert {"需求编号", "满足程度", "最佳专利"} <= set(demands.columns) and len(demands) == int(metrics["需求"])
    at.sidebar.multiselect[0].set_value(["无合适专利"]).run()
    _clean(at)
    assert set(at.dataframe[0].value["满足程度"]) <= {"无合适专利"}
    [b for b in at.button if b.label.startswith("生成需求目录工作簿")][0].click().run()
    _clean(at)
    assert any(getattr(d, "label", "") == "下载需求目录（XLSX，含封面）" for d in at.get("download_button"))


def test_campaign_page_builds_adds_and_digests(app_env, tmp_path):
    at = login(AppTest.from_file(APP, default_timeout=TIMEOUT))
    at.switch_page(CAMPAIGN).run()
    _clean(at)
    at.checkbox(key="camp_open_only").check().run()
    at.selectbox(key="camp_patent").set_value("DEMO-P-001").run()
    at.number_input(key="camp_n").set_value(6).run()
    at.button(key="camp_build").click().run()
    _clean(at)
    table = at.dataframe[0].value
    assert len(table) == 6 and table["企业编号"].is_unique
    at.button(key="camp_add").click().run()
    _clean(at)
    assert any("新增 6 条" in s.value for s in at.success)
    import os

    items = TrackingStore(os.environ["DATABASE_URL"]).frame()
    assert len(items) == 6 and set(items["patent_id"]) == {"DEMO-P-001"}
    # the digest tab: one enterprise's patents, without those already on its shortlist
    enterprise = items["enterprise_id"].iloc[0]
    at.selectbox(key="digest_enterprise").set_value(enterprise).run()
    _clean(at)
    digest = at.dataframe[-1].value
    assert 0 < len(digest) <= 5 and "DEMO-P-001" not in set(digest["专利编号"])


def test_a_viewer_cannot_add_a_campaign(app_env):
    at = login(AppTest.from_file(APP, default_timeout=TIMEOUT), VIEWER)
    at.switch_page(CAMPAIGN).run()
    at.button(key="camp_build").click().run()
    at.button(key="camp_add").click().run()
    assert not at.exception
    assert any("只读账号" in e.value for e in at.error)
