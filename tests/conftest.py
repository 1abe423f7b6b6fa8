"""Shared fixtures: the demo data, a fast test encoder with a per-session cache, a built demo index.

The fast encoder (tests/fast_encoder.py) is the session's default encoder: `config` uses it and MATCHER_ENCODER names
it for everything that builds its own configuration (the CLI in-process and in subprocesses, the workbench). Tests of
USE-m3's own behaviour and the end-to-end ones ask for `use_m3_config` instead."""

from __future__ import annotations

from pathlib import Path

import pytest
from fast_encoder import save_fast_encoder

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


@pytest.fixture(scope="session", autouse=True)
def fast_encoder(tmp_path_factory, demo_patents, demo_enterprises):
    """The path of the fast test encoder (trained once per session on the demo texts, a few seconds), also set as
    MATCHER_ENCODER for the whole session."""
    texts = [*(demo_patents["title"] + " " + demo_patents["abstract"]),
             *(demo_enterprises["name"] + " " + demo_enterprises["text"])]
    path = str(save_fast_encoder(tmp_path_factory.mktemp("encoder") / "fast-test-encoder", texts))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MATCHER_ENCODER", path)
        # the trained default models a checkout may hold (models/) never change the tests' defaults
        env.setenv("MATCHER_MODELS_DIR", str(tmp_path_factory.mktemp("no-trained-models")))
        yield path


@pytest.fixture(scope="session")
def config(cache_dir, fast_encoder) -> MatcherConfig:
    """The tests' engine configuration: the fast test encoder and the session's embedding cache."""
    return MatcherConfig(encoder=fast_encoder, cache_dir=cache_dir)


@pytest.fixture(scope="session")
def use_m3_config(cache_dir) -> MatcherConfig:
    """The default configuration with the real USE-m3, for tests of its semantics and the end-to-end ones."""
    return MatcherConfig(encoder="use-m3", cache_dir=cache_dir)


def _build_demo_index(path: Path, config: MatcherConfig, patents, enterprises) -> Path:
    matcher = Matcher(config)
    matcher.index(Kind.PATENT, patents)
    matcher.index(Kind.ENTERPRISE, enterprises)
    matcher.save(path)
    return path


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory, config, demo_patents, demo_enterprises) -> Path:
    """A saved index of the demo set (fast test encoder), built once per session."""
    return _build_demo_index(tmp_path_factory.mktemp("index") / "index", config, demo_patents, demo_enterprises)


@pytest.fixture(scope="session")
def use_m3_demo_index(tmp_path_factory, use_m3_config, demo_patents, demo_enterprises) -> Path:
    """A saved index of the demo set with the real USE-m3, for the end-to-end tests (built on first use)."""
    return _build_demo_index(tmp_path_factory.mktemp("index-use-m3") / "index", use_m3_config, demo_patents,
                             demo_enterprises)


@pytest.fixture(scope="module")
def loaded(demo_index, config) -> Matcher:
    """The demo index, loaded once per module for tests that only read it (batch runs, read-back)."""
    return Matcher.load(demo_index, config)


@pytest.fixture()
def matcher(demo_index, config) -> Matcher:
    """A fresh copy of the demo index (tests may modify it)."""
    return Matcher.load(demo_index, config)
