"""The 专利盘点 workbench page (AppTest): metrics, tables per view, the tier filter, and no error on the demo index."""

from __future__ import annotations

import pytest
from app_session import signed_in_app
from streamlit.testing.v1 import AppTest

PAGE = "matcher/workbench/page_files/inventory.py"


@pytest.fixture()
def signed_in(monkeypatch, demo_index, cache_dir, tmp_path) -> AppTest:
    return signed_in_app(monkeypatch, demo_index, cache_dir, tmp_path)


def test_inventory_page_counts_the_demo_stock(signed_in, demo_patents):
    at = signed_in.switch_page(PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["记录"] == str(len(demo_patents)) and metrics["不可推送"] == "0"
    by_applicant = at.dataframe[0].value
    assert {"申请人", "专利", "有效", "已推送"} <= set(by_applicant.columns)
    assert by_applicant["专利"].sum() >= len(demo_patents) - int(metrics["合并重复"])
    tiers = sorted(at.dataframe[2].value["分级"])
    at.multiselect(key="inventory_tiers").select(tiers[0]).run()
    assert not at.exception
    assert list(at.dataframe[2].value["分级"]) == [tiers[0]]
