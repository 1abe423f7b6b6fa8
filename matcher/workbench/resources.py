"""Long-lived resources of the workbench, cached per server process with st.cache_resource.

The engine is loaded with a lazy encoder for USE-m3: browsing stored patents and enterprises uses the
stored vectors and the embedding cache, so the encoder model (seconds to load) is only loaded when a
new text must be embedded, and it is warmed in a background thread after start-up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import streamlit as st

from matcher.auth import User, check_users_file, load_users, users_file
from matcher.config import PROJECT_ROOT, load_config
from matcher.encode import load_encoder
from matcher.engine import Matcher
from matcher.index.stored_config import resolve_config
from matcher.tracking import TrackingStore, database_url

DEFAULT_INDEX_DIR = PROJECT_ROOT / "artifacts" / "index"
_USE_DIMS = {"use-m3": 512}


def index_dir() -> Path:
    """The index directory: env MATCHER_INDEX_DIR, else artifacts/index."""
    return Path(os.environ.get("MATCHER_INDEX_DIR") or DEFAULT_INDEX_DIR).expanduser()


class LazyEncoder:
    """The USE-m3 encoder, loaded on first use (thread-safe); model_id and dim are known without loading.

    Args:
        spec: "use-m3".
    """

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.model_id = spec
        self.dim = _USE_DIMS[spec]
        self._inner = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._inner is not None

    def load(self):
        with self._lock:
            if self._inner is None:
                self._inner = load_encoder(self.spec)
            return self._inner

    def preload(self, delay: float = 8.0) -> None:
        """Load the model in a background thread after `delay` seconds (so the first free-text search
        does not wait, while the first pages after start-up do not compete with it for the CPU)."""
        if not self.loaded:
            timer = threading.Timer(delay, self._quiet_load)
            timer.daemon = True
            timer.start()

    def _quiet_load(self) -> None:
        try:
            self.load()
        except Exception:  # noqa: BLE001 - a failure shows up (as a message) when the encoder is really needed
            pass

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        return self.load().encode(texts, batch_size=batch_size, show_progress=show_progress)


def load_matcher(directory: str | Path | None = None, config_path: str | None = None, *, preload: bool = True) -> Matcher:
    """Load the engine with the configuration saved in the index; `config_path` (else env MATCHER_CONFIG) only
    overrides the fields it sets (MatcherError when the index is missing or does not fit them)."""
    directory = Path(directory or index_dir())
    path = config_path or os.environ.get("MATCHER_CONFIG")
    override = load_config(path) if path else None
    spec = resolve_config(directory, override, log=False).encoder.strip()
    lazy = LazyEncoder(spec) if spec in _USE_DIMS else None
    matcher = Matcher.load(directory, override, encoder=lazy) if lazy else Matcher.load(directory, override)
    if lazy is not None and preload and os.environ.get("MATCHER_PRELOAD_ENCODER", "1") != "0":
        lazy.preload()
    return matcher


def _stamp(directory: Path) -> float:
    """Latest modification time of the index files (a rebuilt index gets a new cache entry)."""
    try:
        return max((p.stat().st_mtime for p in directory.rglob("*") if p.is_file()), default=0.0)
    except OSError:
        return 0.0


@st.cache_resource(show_spinner="正在加载匹配引擎…", max_entries=4)
def _cached_matcher(directory: str, config_path: str, stamp: float) -> Matcher:  # noqa: ARG001 - stamp is a cache key
    return load_matcher(directory, config_path or None)


def get_matcher() -> Matcher:
    """The engine of MATCHER_INDEX_DIR, loaded once per server process."""
    directory = index_dir()
    return _cached_matcher(str(directory), os.environ.get("MATCHER_CONFIG", ""), _stamp(directory))


_warming = threading.Lock()
_warmed: set[str] = set()


def warm_matcher() -> None:
    """Start loading the engine in the background (called by the login page, so that the first page
    after the login finds it cached, with the patents' reciprocal lists when the configuration weights them and
    the index does not hold them). Nothing is shown; a failure is reported by the pages later."""
    key = f"{index_dir()}|{os.environ.get('MATCHER_CONFIG', '')}"
    with _warming:
        if key in _warmed:
            return
        _warmed.add(key)

    def run() -> None:
        try:
            matcher = get_matcher()
            if matcher.signals.uses_reciprocal():
                matcher.signals.reciprocal  # noqa: B018 - ranks the patents' lists now unless the index holds them
        except Exception:  # noqa: BLE001 - shown by the pages when they need the engine
            pass

    threading.Thread(target=run, name="engine-warmup", daemon=True).start()


@st.cache_resource(show_spinner="正在连接跟踪数据库…", max_entries=8)
def _cached_store(url: str) -> TrackingStore:
    return TrackingStore(url)


def get_store() -> TrackingStore:
    """The tracking store of DATABASE_URL (or the SQLite file), migrated once per server process."""
    return _cached_store(database_url())


@st.cache_resource(max_entries=4, show_spinner=False)
def _cached_users(path: str, mtime: float) -> dict[str, User]:  # noqa: ARG001 - mtime is a cache key
    return load_users(path)


def _file_key() -> tuple[str, float, int]:
    """The users file, its modification time and mode (a cache key that changes with any edit or chmod)."""
    p = users_file()
    try:
        st_ = p.stat()
        return str(p), st_.st_mtime, st_.st_mode
    except OSError:
        return str(p), 0.0, 0


def get_users() -> dict[str, User]:
    """The officer accounts (re-read when the users file changes)."""
    path, mtime, _ = _file_key()
    return _cached_users(path, mtime)


@st.cache_resource(max_entries=4, show_spinner=False)
def _cached_notes(path: str, mtime: float, mode: int) -> list[str]:  # noqa: ARG001 - mtime and mode are cache keys
    return check_users_file(path)


def users_file_notes() -> list[str]:
    """Warnings about the users file for the administrators (group/world-writable, published demo accounts); logged
    once per server process and file version."""
    return _cached_notes(*_file_key())
