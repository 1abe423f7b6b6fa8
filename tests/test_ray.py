"""`matcher build --engine ray` and `matcher match --engine ray` (Ray in local mode) give the same index and export as
the single-machine run, row for row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

ray = pytest.importorskip("ray", reason="Ray is not installed (the optional extra: pip install -e \".[ray]\")")

from matcher.engine import Matcher  # noqa: E402
from matcher.index.collection import CONTENT  # noqa: E402
from pipelines.cli import app  # noqa: E402

DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"
INPUTS = ["--patents", str(DEMO / "patents.csv"), "--enterprises", str(DEMO / "enterprises.csv")]
STEMS = ("enterprise_to_patent", "patent_to_enterprise")


@pytest.fixture(scope="module", autouse=True)
def _ray_stops():
    """The local Ray instance the CLI starts is shut down after this module."""
    yield
    if ray.is_initialized():
        ray.shutdown()


def _cli(args: list[str], monkeypatch, cache: Path) -> None:
    monkeypatch.setenv("MATCHER_CACHE_DIR", str(cache))
    res = CliRunner().invoke(app, args, env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output + repr(res.exception)


def _frames(out: Path) -> dict[str, pd.DataFrame]:
    return {stem: pd.read_parquet(out / "matches" / f"{stem}.parquet") for stem in STEMS}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The demo index built in this process and on Ray, each with an empty embedding cache of its own (so Ray's
    workers encode every text): {engine: index folder}."""
    root = tmp_path_factory.mktemp("ray-build")
    with pytest.MonkeyPatch.context() as mp:
        for engine in ("local", "ray"):
            _cli(["build", *INPUTS, "--index-dir", str(root / engine), "--engine", engine], mp, root / f"cache-{engine}")
    return {engine: root / engine for engine in ("local", "ray")}


def test_the_ray_build_writes_the_same_index(built):
    local, on_ray = Matcher.load(built["local"]), Matcher.load(built["ray"])
    assert local.kinds == on_ray.kinds
    for kind in local.kinds:
        a, b = local.get(kind), on_ray.get(kind)
        pd.testing.assert_frame_equal(a.records, b.records)
        assert a.manifest().data_hash == b.manifest().data_hash
        rows = a.records.index.to_numpy(dtype=np.int64)
        np.testing.assert_array_equal(a.dense.vectors(rows), b.dense.vectors(rows))
        for text in a.records[CONTENT].head(20):  # the BM25 index answers every record's terms alike
            terms = local.terms(text)
            assert terms == on_ray.terms(text) and terms
            np.testing.assert_array_equal(a.lexical.score(terms, a.lexical.ids), b.lexical.score(terms, b.lexical.ids))


def test_the_ray_match_writes_the_same_export(built, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    _cli(["match", "--index-dir", str(built["local"]), "--out", str(tmp_path / "local"), "--formats", "parquet,csv"],
         monkeypatch, cache)
    # small chunks: many of them, spread over both workers and finishing out of order
    _cli(["match", "--index-dir", str(built["ray"]), "--out", str(tmp_path / "ray"), "--formats", "parquet,csv",
          "--engine", "ray", "--chunk-size", "7"], monkeypatch, cache)
    local, on_ray = _frames(tmp_path / "local"), _frames(tmp_path / "ray")
    for stem in STEMS:
        assert len(local[stem]) > 100
        pd.testing.assert_frame_equal(local[stem], on_ray[stem], check_exact=True)
        assert (tmp_path / "local" / "matches" / f"{stem}.csv").read_bytes() == \
            (tmp_path / "ray" / "matches" / f"{stem}.csv").read_bytes()


def test_an_address_without_the_ray_engine_is_refused(tmp_path):
    res = CliRunner().invoke(app, ["match", "--index-dir", str(tmp_path), "--address", "ray://nowhere:10001"])
    assert res.exit_code == 2 and "--engine ray" in res.output
