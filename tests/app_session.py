"""An AppTest of the workbench on a given index, signed in as a demo account (for page tests outside test_app.py)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent


def signed_in_app(monkeypatch, index: Path, cache_dir: Path, tmp_path: Path,
                  who: tuple[str, str] = ("viewer", "demo-viewer-2024")) -> AppTest:
    """The app on `index` with a fresh tracking database in `tmp_path`, after `who` signed in."""
    monkeypatch.setenv("MATCHER_INDEX_DIR", str(index))
    monkeypatch.setenv("MATCHER_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("MATCHER_USERS_FILE", str(ROOT / "config" / "users.example.toml"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'tracking.sqlite'}")
    monkeypatch.delenv("MATCHER_CONFIG", raising=False)
    monkeypatch.setattr("matcher.auth.throttle._default", None)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.text_input(key="login_user").input(who[0])
    at.text_input(key="login_password").input(who[1])
    next(b for b in at.button if b.label == "登录").click()
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at
