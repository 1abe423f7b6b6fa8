"""The 专利盘点 workbench page (AppTest): metrics, tables per view, the tier filter, and no error on the demo index."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
USERS = ROOT / "config" / "users.example.toml"
PAGE = "matcher/workbench/page_files/inventory.py"


@pytest.fixture()
def signed_in(monkeypatch, demo_index, cache_dir, tmp_path) -> AppTest:
    monkeypatch.setenv("MATCHER_INDEX_DIR", str(demo_index))
    monkeypatch.setenv("MATCHER_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("MATCHER_USERS_FILE", str(USERS))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'tracking.sqlite'}")
    monkeypatch.delenv("MATCHER_CONFIG", raising=False)
    monkeypatch.setattr("matcher.auth.throttle._default", None)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.text_input(key="login_user").input("viewer")
    at.text_input(key="login_password").input("demo-viewer-2024")
    next(b for b in at.button if b.label == "登录").click()
    at.run()
    return at


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
