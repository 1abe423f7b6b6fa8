"""End-to-end (real headless Chromium): the helper pages 专利详情, 企业详情, 待办, 推送函 and 数据上传 open from their
links, show no error and no English, and are screenshotted (MATCHER_SCREENSHOTS_DIR, e.g. docs/screenshots).

Uses the server, browser and helpers of tests/test_e2e_browser.py (its own server for this module). Skipped when
/usr/bin/chromium is missing.
"""

from __future__ import annotations

import re

from test_e2e_browser import (  # noqa: F401 - pytest fixtures
    WAIT_MS,
    _english,
    _new_page,
    _no_error_shown,
    _pick_demand,
    _settle,
    _shot,
    _sign_in,
    browser,
    data_words,
    pytestmark,
    server,
    shots,
)


# st.file_uploader's own dropzone text cannot be set from Python (left to be localised; see the report of issue 25)
UPLOADER_WORDS = {"Drag", "and", "drop", "file", "here", "Limit", "MB", "per", "Browse", "files", "Upload", "TSV", "XLSM"}


def _visit(page, url: str, heading: str, data_words: set[str], allowed: set[str] = frozenset()) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("heading", name=heading).first.wait_for(timeout=WAIT_MS)
    _settle(page)
    _no_error_shown(page)
    english = [w for w in _english(page, data_words) if w not in allowed]
    assert not english, english


def test_helper_pages_open_from_links(server, browser, shots, data_words):
    page = _new_page(browser)
    page.goto(server, wait_until="domcontentloaded")
    _sign_in(page)
    _pick_demand(page, "DEMO-D-002")
    page.get_by_role("button", name="加入推送清单").first.click()
    _settle(page)
    # the card's link opens the patent's page with ?patent=
    page.locator('[data-testid="stMain"]').get_by_role("link", name="专利详情").first.click()
    page.get_by_role("heading", name="专利详情").wait_for(timeout=WAIT_MS)
    _settle(page)
    assert re.search(r"[?&]patent=DEMO-P-\d+", page.url), page.url
    _no_error_shown(page)
    _visit(page, f"{server}/patent?patent=DEMO-P-001", "专利详情", data_words)
    page.get_by_text("对方清单中本条排名").first.wait_for(timeout=WAIT_MS)
    _shot(shots, "patent", page)
    _visit(page, f"{server}/enterprise?enterprise=DEMO-C-012", "企业/需求详情", data_words)
    page.get_by_text("企业已持有的专利").first.wait_for(timeout=WAIT_MS)
    _shot(shots, "enterprise", page)
    _visit(page, f"{server}/todo", "待办", data_words)
    _shot(shots, "todo", page)
    _visit(page, f"{server}/letter?pair=1", "推送函", data_words)
    page.get_by_role("button", name=re.compile("生成推送函")).click()
    page.get_by_role("button", name=re.compile("下载推送函")).wait_for(timeout=WAIT_MS)
    _settle(page)
    _no_error_shown(page)
    _shot(shots, "letter", page)
    _visit(page, f"{server}/upload", "数据上传", data_words, UPLOADER_WORDS)
    _shot(shots, "upload", page)
