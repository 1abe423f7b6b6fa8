"""The research notebooks run top to bottom in CI mode (small seeded benchmark subsets) and write their tables."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from matcher.config import load_config
from matcher.ingest import shared_dir

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402  (after the importorskip checks)
from jupyter_client.manager import KernelManager  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "matcher-notebooks"
METRICS = ["ndcg@10", "recall@10", "recall@100", "mrr@10"]

needs_shared = pytest.mark.skipif(
    not (shared_dir() / "benchmarks").is_dir() or not (shared_dir() / "data").is_dir(),
    reason=f"the notebooks explore the real data: {shared_dir()} (data/ and benchmarks/) is absent; "
           "set MATCHER_SHARED_DIR to the shared folder",
)


@pytest.fixture(scope="session")
def kernel_dir(tmp_path_factory) -> Path:
    """A kernelspec that starts ipykernel with this interpreter (the venv), whatever kernels the machine lists."""
    root = tmp_path_factory.mktemp("kernels")
    (root / KERNEL).mkdir()
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "matcher notebooks (test)", "language": "python"}
    (root / KERNEL / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def run_env(tmp_path_factory) -> dict[str, str]:
    """Environment of the notebook kernels: CI mode, a session embedding cache shared by the three notebooks."""
    return {
        "MATCHER_CACHE_DIR": str(tmp_path_factory.mktemp("notebook-cache")),
        "NOTEBOOK_OUT": str(tmp_path_factory.mktemp("notebook-out")),
        "MATCHER_SHARED_DIR": str(shared_dir()),
        "TMPDIR": str(tmp_path_factory.mktemp("notebook-tmp")),  # the benchmark subsets land here
    }


def execute(name: str, kernel_dir: Path, env: dict[str, str], monkeypatch) -> float:
    """Run one notebook top to bottom in the notebooks folder; fail with the cell's traceback on any error.

    Returns:
        The wall time in seconds.
    """
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # the notebooks compare the real models end to end: not the session's fast test encoder
    for key in ("NOTEBOOK_FULL", "MODELS", "NOTEBOOK_QUERIES", "NOTEBOOK_OTHERS", "NOTEBOOK_SEED", "MATCHER_ENCODER"):
        monkeypatch.delenv(key, raising=False)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]))
    client = nbclient.NotebookClient(nb, km=km, timeout=600, kernel_name=KERNEL,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    print(f"{name}: {seconds:.0f} s")
    return seconds


def check_metrics(frame: pd.DataFrame) -> None:
    assert len(frame) > 0
    for metric in METRICS:
        assert frame[metric].notna().all(), metric
        assert frame[metric].between(0.0, 1.0).all(), metric


@pytest.mark.shared
@pytest.mark.slow
@needs_shared
def test_01_data_exploration(kernel_dir, run_env, monkeypatch):
    execute("01_data_exploration.ipynb", kernel_dir, run_env, monkeypatch)


@pytest.mark.shared
@pytest.mark.slow
@needs_shared
def test_02_model_comparison(kernel_dir, run_env, monkeypatch):
    execute("02_model_comparison.ipynb", kernel_dir, run_env, monkeypatch)
    table = pd.read_csv(Path(run_env["NOTEBOOK_OUT"]) / "02_model_comparison.csv")
    check_metrics(table)
    assert set(table["benchmark"]) == {"c2p-dev", "p2c-dev", "kw2p-dev"}
    assert {"BM25 only", "dense only", "dense + BM25", "default engine"} <= set(table["system"])
    assert (table["mode"] == "ci-subset").all()
    # every other system is tested against the default engine on every benchmark and metric
    tests = pd.read_csv(Path(run_env["NOTEBOOK_OUT"]) / "02_significance.csv")
    assert len(tests) == 3 * (len(set(table["system"])) - 1) * 3
    assert "default engine" not in set(tests["system"])
    assert ((tests["low"] <= tests["delta"] + 1e-4) & (tests["delta"] <= tests["high"] + 1e-4)).all()
    assert tests["p_value"].between(0, 1).all()
    joined = tests.merge(table, on=["benchmark", "system"])
    for metric in ("ndcg@10", "mrr@10"):
        rows = joined[joined["metric"] == metric]
        assert (rows["new"] - rows[metric]).abs().max() < 1e-3  # the tests read the same rankings the table scores


@pytest.mark.shared
@pytest.mark.slow
@needs_shared
def test_03_fusion_tuning(kernel_dir, run_env, monkeypatch):
    execute("03_fusion_tuning.ipynb", kernel_dir, run_env, monkeypatch)
    out = Path(run_env["NOTEBOOK_OUT"])
    grid = pd.read_csv(out / "03_fusion_grid.csv")
    check_metrics(grid)
    assert set(grid["query_mode"]) == {"search", "accurate"} and set(grid["method"]) == {"weighted", "rrf"}
    summary = pd.read_csv(out / "03_fusion_recommended.csv")
    check_metrics(summary)
    assert set(summary["direction"]) == {"enterprise->patent", "patent->enterprise", "text->patent"}
    held = pd.read_csv(out / "03_fusion_held_out.csv")
    assert set(held["benchmark"]) == {"c2p-dev", "p2c-dev", "kw2p-dev"}
    assert set(held["choice"]) == {"best setting", "best neighbourhood"}
    for column in ("ndcg@10 on all queries", "held-out ndcg@10", "held-out recall@100", "held-out mrr@10"):
        assert held[column].between(0.0, 1.0).all() and (held[column] > 0).any(), column
    assert (held["held-out ndcg@10 sd"] >= 0).all()
    config = load_config(out / "03_fusion_config.json")
    assert {d.value for d in config.fusion} == {"enterprise->patent", "patent->enterprise", "text->patent"}
    activity = json.loads((out / "activity-cv" / "cross_validation.json").read_text(encoding="utf-8"))
    assert activity["queries"] > 0 and {float(w) for w in activity["weights"]} == {0.0, 0.5, 1.0, 2.0, 3.0, 4.0}
    check_metrics(pd.DataFrame(activity["weights"]).T)
    assert all(fold["held_out_auc"]["other_filers"] > 0.6 for fold in activity["folds"])


def test_notebooks_are_committed_without_outputs():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, f"{path.name}: clear the outputs"
