"""End-to-end: `streamlit run app.py` on localhost, driven by a real headless Chromium (Playwright for Python).

One server (demo index with USE-m3, its nightly lists, demo users, a fresh SQLite tracking database, a login cookie
secret) serves every test of this module:

- the officer's day: log in, pick a demand, move the top patent to 已推送; a browser refresh keeps the login and the
  picked record (the URL names it); the tracking record's link opens it for a colleague after their login; the
  overview and the nightly lists; logging out leaves only the login form (no page list), and the signed-out cookie
  signs nobody in again, not even when replayed.

A screenshot of every page is taken on the way, into MATCHER_SCREENSHOTS_DIR (e.g. /work/screens; docs/screenshots
holds small ones) or a temporary folder. Skipped when /usr/bin/chromium is missing (scripts/ci_services.sh installs it).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MAX_PNG = 300_000
WAIT_MS = 180_000
EDITOR = ("editor", "demo-editor-2024")
VIEWER = ("viewer", "demo-viewer-2024")
COOKIE = "matcher_login"
NAV = '[data-testid="stSidebarNav"]'

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (install the Debian package: scripts/ci_services.sh)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(use_m3_demo_index, use_m3_config, cache_dir, tmp_path_factory):
    """`streamlit run app.py` on 127.0.0.1 with the demo index and its nightly lists, demo users, a fresh SQLite
    tracking DB and a login cookie secret."""
    from matcher.engine import Matcher
    from matcher.export import NightlyJob

    tmp_path = tmp_path_factory.mktemp("e2e")
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
        "MATCHER_LOGIN_COOKIE_SECRET": "e2e-test-secret-" + "x" * 32,
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    log_path = tmp_path / "streamlit.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none",
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
            pytest.fail(f"streamlit did not start: {log_path.read_text()[-2000:]}")
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
        assert "Uncaught app execution" not in log_path.read_text(), log_path.read_text()[-3000:]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """The screenshot folder: MATCHER_SCREENSHOTS_DIR, else a temporary one."""
    folder = Path(os.environ.get("MATCHER_SCREENSHOTS_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _shrink(path: Path) -> None:
    """Keep a screenshot under 300 KB (palette PNG) when needed."""
    if path.stat().st_size <= MAX_PNG:
        return
    from PIL import Image

    with Image.open(path) as im:
        im.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def _shot(folder: Path, name: str, page) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    _shrink(path)
    assert path.stat().st_size <= MAX_PNG


def _new_page(browser):
    """A fresh browser context (its own cookies: another officer, or a colleague opening a link)."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    return context.new_page()


def _settle(page) -> None:
    """Wait until Streamlit has finished the current run."""
    page.wait_for_timeout(500)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=WAIT_MS)
    page.wait_for_timeout(300)


def _login_form_only(page) -> None:
    """The login form is shown, and nothing else: no page list, no data."""
    page.get_by_label("用户名").wait_for(timeout=WAIT_MS)
    _settle(page)
    assert page.locator(NAV).count() == 0, "the page list is shown without a login"
    for title in ("匹配浏览", "夜间清单", "推送跟踪", "总览"):
        assert page.get_by_role("link", name=title).count() == 0, title
    assert page.get_by_text("DEMO-").count() == 0  # nothing of the data


def _sign_in(page, who: tuple[str, str] = EDITOR, heading: str = "匹配浏览") -> float:
    """Fill the login form shown on `page`; returns the seconds from the click to the page's heading."""
    page.get_by_label("用户名").fill(who[0], timeout=WAIT_MS)
    page.get_by_label("密码").fill(who[1])
    started = time.perf_counter()
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name=heading).wait_for(timeout=WAIT_MS)
    return time.perf_counter() - started


def _pick_demand(page, demand_id: str) -> None:
    box = page.get_by_role("combobox", name="选择企业/需求")
    box.click()
    page.keyboard.type(demand_id)
    page.get_by_role("option", name=demand_id).first.click()
    page.get_by_text("条专利符合筛选条件").first.wait_for(timeout=WAIT_MS)


def _param(page, name: str) -> str | None:
    """The URL parameter `name` of the page (None when absent)."""
    values = parse_qs(urlparse(page.url).query).get(name)
    return values[0] if values else None


def _wait_param(page, name: str) -> str:
    """Wait until the URL holds parameter `name`; returns its value."""
    page.wait_for_function(f"new URLSearchParams(location.search).has({name!r})", timeout=WAIT_MS)
    return _param(page, name)


def test_officer_day_refresh_link_and_logout(server, browser, shots):
    page = _new_page(browser)
    page.goto(server, wait_until="domcontentloaded")
    _login_form_only(page)
    _shot(shots, "login", page)

    print(f"\nfirst page after login: {_sign_in(page):.2f} s")
    assert page.locator(NAV).count() == 1  # signed in: the page list is there
    _pick_demand(page, "DEMO-D-002")
    assert _wait_param(page, "enterprise") == "DEMO-D-002"  # the picked record is in the URL
    card = page.locator(".st-key-card_DEMO-P-001_DEMO-D-002")
    # the card's container is attached before Streamlit fills it: wait for its title, not the box
    card.get_by_text("一种可降解聚乳酸薄膜").first.wait_for(timeout=WAIT_MS)
    # the highlighted texts are later elements of the same card: wait for them too (CI read 0 marks once)
    card.locator("mark").first.wait_for(timeout=WAIT_MS)
    assert card.locator("mark").count() > 0  # shared key terms highlighted
    _settle(page)
    _shot(shots, "browse", page)

    card.get_by_role("button", name="加入推送清单").click()
    card.get_by_text("跟踪状态：待推送").wait_for(timeout=WAIT_MS)
    card.get_by_role("button", name="标记为已推送").click()
    card.get_by_text("跟踪状态：已推送").wait_for(timeout=WAIT_MS)
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert COOKIE in cookies and cookies[COOKIE]["sameSite"] == "Strict" and cookies[COOKIE]["expires"] > time.time()

    # refresh: still signed in, and the picked demand is back from the URL
    started = time.perf_counter()
    page.reload(wait_until="domcontentloaded")
    page.locator(".st-key-card_DEMO-P-001_DEMO-D-002").get_by_text("跟踪状态：已推送").wait_for(timeout=WAIT_MS)
    print(f"refresh to the picked record's cards: {time.perf_counter() - started:.2f} s")
    assert page.get_by_label("密码").count() == 0

    page.get_by_role("link", name="推送跟踪").click()
    page.get_by_role("heading", name="推送跟踪").wait_for(timeout=WAIT_MS)
    page.get_by_text("当前状态：已推送").wait_for(timeout=WAIT_MS)
    pair = _wait_param(page, "pair")
    tracking_link = page.url
    _settle(page)
    _shot(shots, "tracking", page)
    page.reload(wait_until="domcontentloaded")
    page.get_by_text("当前状态：已推送").wait_for(timeout=WAIT_MS)
    assert _param(page, "pair") == pair and page.get_by_label("密码").count() == 0

    # a colleague opens the shared link: login form only, then the linked record
    colleague = _new_page(browser)
    colleague.goto(tracking_link, wait_until="domcontentloaded")
    _login_form_only(colleague)
    _sign_in(colleague, VIEWER, heading="推送跟踪")
    colleague.get_by_text("当前状态：已推送").wait_for(timeout=WAIT_MS)
    assert _param(colleague, "pair") == pair
    colleague.context.close()

    page.set_viewport_size({"width": 1366, "height": 1400})
    page.get_by_role("link", name="总览").click()
    page.get_by_role("heading", name="总览").wait_for(timeout=WAIT_MS)
    page.locator(".js-plotly-plot").nth(4).wait_for(timeout=WAIT_MS)
    _settle(page)
    assert page.locator(".js-plotly-plot").count() == 5
    _shot(shots, "overview", page)

    page.get_by_role("link", name="夜间清单").click()
    page.get_by_role("heading", name="夜间推荐清单").wait_for(timeout=WAIT_MS)
    page.get_by_text("每个清单取前 10 名").wait_for(timeout=WAIT_MS)
    page.locator(".js-plotly-plot").first.wait_for(timeout=WAIT_MS)
    _settle(page)
    assert page.get_by_text("出现在最多清单中的专利").count() > 0  # the run's first direction: enterprise -> patent
    _shot(shots, "nightly", page)

    # logout: only the login form, the cookie is gone, and a refresh does not sign in again
    signed_out = {c["name"]: c for c in page.context.cookies()}[COOKIE]
    page.get_by_role("button", name="退出登录").click()
    _login_form_only(page)
    page.wait_for_function(f"!document.cookie.includes({COOKIE + '='!r})", timeout=WAIT_MS)
    page.reload(wait_until="domcontentloaded")
    _login_form_only(page)

    # the signed-out cookie, replayed by another browser, signs nobody in
    thief = _new_page(browser)
    thief.context.add_cookies([{k: signed_out[k] for k in ("name", "value", "domain", "path")}])
    thief.goto(server, wait_until="domcontentloaded")
    _login_form_only(thief)
    thief.context.close()
    page.context.close()
