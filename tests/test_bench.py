"""`matcher bench` on the demo data with the fast test encoder: it runs, and its JSON line has the keys and sane types
(benchmarks print numbers; no time is asserted)."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from pipelines.bench import peak_rss_mb, reset_peak_rss
from pipelines.main import app

NUMBERS = ("segment_texts_per_s", "build_s", "match_s", "query_p50_ms", "query_p95_ms", "stored_p50_ms", "stored_p95_ms",
           "peak_rss_mb", "peak_rss_build_mb", "peak_rss_match_mb", "serve_peak_rss_mb", "serve_rss_private_mb", "index_mb")


def _bench(*args) -> dict:
    result = CliRunner().invoke(app, ["bench", "--demo", "--json", "--queries", "3", *map(str, args)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_bench_json_on_the_demo_data(tmp_path, demo_patents, demo_enterprises):
    cache = tmp_path / "cache"
    cold = _bench("--cache-dir", cache, "--vectors", 3000, "--vector-backend", "flat", "--vector-backend", "SQ8")
    assert cold["patents"] == len(demo_patents) and cold["enterprises"] == len(demo_enterprises)
    for key in NUMBERS:
        assert isinstance(cold[key], (int, float)) and cold[key] > 0, key
    assert cold["query_p50_ms"] <= cold["query_p95_ms"]
    assert cold["peak_rss_mb"] == max(cold["peak_rss_build_mb"], cold["peak_rss_match_mb"])
    assert cold["cold"] is True
    # a fresh process serving the index maps its vectors from the files instead of reading them into its own memory
    assert cold["serve_rss_index_files_mb"] > 0
    # "auto": the demo's sides are far below `exact_limit`, so every vector is kept in float32
    assert cold["vector_storage"] == "auto"
    assert cold["stored_as"] == {"patent": "float32", "enterprise": "float32", "enterprise_items": "float32"}
    (model, rate), = cold["encode_texts_per_s"].items()
    assert model == cold["encoder"] and rate > 0 and cold["encoded_texts"][model] > 0
    assert set(cold["queries"]) == {"pasted->patent", "pasted->enterprise", "enterprise->patent", "patent->enterprise"}
    backends = cold["vectors"]["backends"]
    assert cold["vectors"]["n"] == 3000 and set(backends) == {"flat (exact, float32)", "ivf + SQ8"}
    assert backends["flat (exact, float32)"]["recall_at_10"] == 1.0
    assert 0 < backends["ivf + SQ8"]["recall_at_10"] <= 1.0

    warm = _bench("--cache-dir", cache)  # the same texts again: nothing to encode
    assert warm["cold"] is False and warm["cache_hits"] > 0
    assert "vectors" not in warm


def test_the_peak_memory_of_a_stage_starts_afresh():
    block = np.ones(50_000_000)  # 400 MB, touched
    before = peak_rss_mb()
    del block
    reset_peak_rss()
    assert peak_rss_mb() < before - 300, "the build's peak would be counted as the nightly job's"
