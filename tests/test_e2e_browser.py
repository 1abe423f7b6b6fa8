"""End-to-end: `streamlit run app.py` on localhost, driven by a real headless Chromium (Playwright for Python).

Logs in, picks a demand, sees ranked patents, moves the top one to 已推送, reloads the browser
(a new Streamlit session: log in again), and still sees 已推送, on the card and on the tracking page; then opens
the overview and the nightly lists.
A screenshot of every page is taken on the way (into a temporary folder, or into
MATCHER_SCREENSHOTS_DIR, e.g. docs/screenshots, when that is set).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MAX_PNG = 300_000
WAIT_MS = 180_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (install the Debian package: scripts/ci_services.sh)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(use_m3_demo_index, use_m3_config, cache_dir, tmp_path):
    """`streamlit run app.py` on 127.0.0.1 with the demo index and its nightly lists, demo users and a fresh SQLite
    tracking DB."""
    from matcher.engine import Matcher
    from matcher.export import NightlyJob

    NightlyJob(Matcher.load(use_m3_demo_index, use_m3_config), k=10, formats=("parquet",),
               max_per_target={"patent->enterprise": 20}).run(tmp_path / "exports")
    port = _free_port()
    env = {
        **{key: value for key, value in os.environ.items() if key != "MATCHER_ENCODER"},  # end to end: USE-m3
        "MATCHER_INDEX_DIR": str(use_m3_demo_index),
        "MATCHER_EXPORT_DIR": str(tmp_path / "exports" / "matches"),
        "MATCHER_CACHE_DIR": str(cache_dir),
        "MATCHER_USERS_FILE": str(ROOT / "config" / "users.example.toml"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'tracking.sqlite'}",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    log = open(tmp_path / "streamlit.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            log.close()
            pytest.fail(f"streamlit did not start: {(tmp_path / 'streamlit.log').read_text()[-2000:]}")
        time.sleep(0.5)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _shrink(path: Path) -> None:
    """Keep a screenshot under 300 KB (palette PNG) when needed."""
    if path.stat().st_size <= MAX_PNG:
        return
    from PIL import Image

    with Image.open(path) as im:
        im.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def _login(page, url: str) -> float:
    """Log in as the demo editor; returns the seconds from the click to the first page."""
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_label("用户名").fill("editor", timeout=WAIT_MS)
    page.get_by_label("密码").fill("demo-editor-2024")
    started = time.perf_counter()
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="匹配浏览").wait_for(timeout=WAIT_MS)
    return time.perf_counter() - started


def _pick_demand(page, demand_id: str) -> None:
    box = page.get_by_role("combobox", name="选择企业/需求")
    box.click()
    page.keyboard.type(demand_id)
    page.get_by_role("option", name=demand_id).first.click()
    page.get_by_text("条专利符合筛选条件").first.wait_for(timeout=WAIT_MS)


def _settle(page) -> None:
    """Wait until Streamlit has finished the current run."""
    page.wait_for_timeout(500)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=WAIT_MS)
    page.wait_for_timeout(300)


def test_login_pick_demand_push_reload(server, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("MATCHER_SCREENSHOTS_DIR") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)

    def shot(name: str, page) -> None:
        path = shots / f"{name}.png"
        page.screenshot(path=str(path))
        _shrink(path)
        assert path.stat().st_size <= MAX_PNG

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
            page.goto(server, wait_until="domcontentloaded")
            page.get_by_label("用户名").wait_for(timeout=WAIT_MS)
            assert page.get_by_text("DEMO-").count() == 0  # nothing of the data before the login
            shot("login", page)

            print(f"first page after login: {_login(page, server):.2f} s")
            _pick_demand(page, "DEMO-D-002")
            card = page.locator(".st-key-card_DEMO-P-001_DEMO-D-002")
            # the card's container is attached before Streamlit fills it: wait for its title, not the box
            card.get_by_text("一种可降解聚乳酸薄膜").first.wait_for(timeout=WAIT_MS)
            assert "一种可降解聚乳酸薄膜" in card.inner_text()
            # the highlighted texts are later elements of the same card: wait for them too (CI read 0 marks once)
            card.locator("mark").first.wait_for(timeout=WAIT_MS)
            assert card.locator("mark").count() > 0  # shared key terms highlighted
            _settle(page)
            shot("browse", page)

            card.get_by_role("button", name="加入推送清单").click()
            card.get_by_text("跟踪状态：待推送").wait_for(timeout=WAIT_MS)
            card.get_by_role("button", name="标记为已推送").click()
            card.get_by_text("跟踪状态：已推送").wait_for(timeout=WAIT_MS)

            # reload: a new Streamlit session, log in again, and the status is still there
            page.reload(wait_until="domcontentloaded")
            _login(page, server)
            _pick_demand(page, "DEMO-D-002")
            card = page.locator(".st-key-card_DEMO-P-001_DEMO-D-002")
            card.get_by_text("跟踪状态：已推送").wait_for(timeout=WAIT_MS)

            page.get_by_role("link", name="推送跟踪").click()
            page.get_by_role("heading", name="推送跟踪").wait_for(timeout=WAIT_MS)
            page.get_by_text("当前状态：已推送").wait_for(timeout=WAIT_MS)
            _settle(page)
            shot("tracking", page)

            page.set_viewport_size({"width": 1366, "height": 1400})
            page.get_by_role("link", name="总览").click()
            page.get_by_role("heading", name="总览").wait_for(timeout=WAIT_MS)
            page.locator(".js-plotly-plot").nth(4).wait_for(timeout=WAIT_MS)
            _settle(page)
            assert page.locator(".js-plotly-plot").count() == 5
            shot("overview", page)

            page.get_by_role("link", name="夜间清单").click()
            page.get_by_role("heading", name="夜间推荐清单").wait_for(timeout=WAIT_MS)
            page.get_by_text("每个清单取前 10 名").wait_for(timeout=WAIT_MS)
            page.locator(".js-plotly-plot").first.wait_for(timeout=WAIT_MS)
            _settle(page)
            assert page.get_by_text("出现在最多清单中的专利").count() > 0  # the run's first direction: enterprise -> patent
            shot("nightly", page)
        finally:
            browser.close()
