"""Shared fixtures: the demo data, a real USE-m3 encoder with a per-session cache, a built demo index."""

from __future__ import annotations

from pathlib import Path

import pytest

from matcher.config import MatcherConfig
from matcher.engine import Matcher
from matcher.ingest import load_records
from matcher.schema import Kind

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo"
SHARED = Path(__import__("os").environ.get("MATCHER_SHARED_DIR", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def demo_patents():
    return load_records(DEMO / "patents.csv", Kind.PATENT).frame


@pytest.fixture(scope="session")
def demo_enterprises():
    return load_records(DEMO / "enterprises.csv", Kind.ENTERPRISE).frame


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(scope="session")
def config(cache_dir) -> MatcherConfig:
    return MatcherConfig(encoder="use-m3", cache_dir=cache_dir)


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory, config, demo_patents, demo_enterprises) -> Path:
    """A saved index of the demo set, built once per session."""
    matcher = Matcher(config)
    matcher.index(Kind.PATENT, demo_patents)
    matcher.index(Kind.ENTERPRISE, demo_enterprises)
    path = tmp_path_factory.mktemp("index") / "index"
    matcher.save(path)
    return path


@pytest.fixture(scope="module")
def loaded(demo_index, config) -> Matcher:
    """The demo index, loaded once per module for tests that only read it (batch runs, read-back)."""
    return Matcher.load(demo_index, config)


@pytest.fixture()
def matcher(demo_index, config) -> Matcher:
    """A fresh copy of the demo index (tests may modify it)."""
    return Matcher.load(demo_index, config)
