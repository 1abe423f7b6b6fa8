"""Shared helpers for the research notebooks: benchmark subsets for CI runs, output folder, plot fonts.

The notebooks run in two modes:

* CI mode (default): every benchmark is cut down to a few seeded queries and a corpus made of their
  relevant documents plus a seeded sample of other documents, written as BEIR folders into a temporary
  directory. Numbers from these subsets are only smoke checks: the corpus is 10 to 100 times smaller than
  the dev corpus, so retrieval is much easier, and 30 queries are few; the metrics are NOT comparable
  with full-dev numbers.
* Full mode (env ``NOTEBOOK_FULL=1``): the full dev benchmarks under ``<shared>/benchmarks``.

Environment:
    NOTEBOOK_FULL: "1" for the full dev benchmarks.
    NOTEBOOK_QUERIES, NOTEBOOK_OTHERS, NOTEBOOK_SEED: subset size and seed (defaults 30, 150, 0): the
        default USE-m3 encoder embeds long patent texts at only ~10-20 per second on 2 shared cores, so the
        corpus stays a few hundred documents. Queries with more than 20 relevant documents (one c2p
        company filed 79 of the patents) are not sampled, for the same reason.
    NOTEBOOK_OUT: folder for the notebooks' result tables (default <project>/artifacts/notebooks).
    MATCHER_SHARED_DIR: the shared data folder (default ../shared beside the project).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from matcher.config import PROJECT_ROOT
from matcher.lab.evaluate import load_beir
from matcher.ingest import SHARED_DIR_ENV, shared_dir

BENCHMARKS = ("c2p-dev", "p2c-dev", "kw2p-dev")
FULL_ENV = "NOTEBOOK_FULL"
OUT_ENV = "NOTEBOOK_OUT"
MAX_RELEVANT = 20  # CI subsets skip queries with more relevant documents (their corpus would be large)
CJK_FONTS = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
             "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "AR PL UMing CN", "AR PL UKai CN")


def full_mode() -> bool:
    """True when env NOTEBOOK_FULL asks for the full dev benchmarks ("1", "true", "yes")."""
    return os.environ.get(FULL_ENV, "").strip().lower() in {"1", "true", "yes"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def subset_size() -> tuple[int, int, int]:
    """(queries per benchmark, other documents, seed) for CI mode, from the environment or the defaults."""
    return _env_int("NOTEBOOK_QUERIES", 30), _env_int("NOTEBOOK_OTHERS", 150), _env_int("NOTEBOOK_SEED", 0)


def benchmarks_root() -> Path:
    """The folder of the full benchmarks: <shared>/benchmarks.

    Raises:
        FileNotFoundError: the shared folder or its benchmarks are missing (says how to point to them).
    """
    root = shared_dir() / "benchmarks"
    if not root.is_dir():
        raise FileNotFoundError(f"no benchmarks at {root}: set {SHARED_DIR_ENV} to the folder that holds data/ and benchmarks/")
    return root


def out_dir() -> Path:
    """The folder the notebooks write their result tables to (env NOTEBOOK_OUT), created if missing."""
    path = Path(os.environ.get(OUT_ENV) or PROJECT_ROOT / "artifacts" / "notebooks")
    path.mkdir(parents=True, exist_ok=True)
    return path


def make_subset(source: str | Path, dest: str | Path, *, n_queries: int = 30, n_others: int = 150, seed: int = 0,
                max_relevant: int | None = MAX_RELEVANT) -> Path:
    """Write a small BEIR copy of a benchmark: sampled queries, their relevant documents, sampled others.

    Args:
        source: a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv).
        dest: the folder to write (its name should keep the "<query>2<corpus>" form, e.g. c2p-dev).
        n_queries: judged queries to keep (all when fewer exist).
        n_others: documents that are relevant to none of the kept queries, added as distractors.
        seed: the sampling seed (same seed, same subset).
        max_relevant: queries with more relevant documents are not sampled (None: no limit).

    Returns:
        `dest`.
    """
    bench = load_beir(source)
    rng = np.random.default_rng(seed)
    qids = sorted(q for q in bench.queries if max_relevant is None or len(bench.qrels[q]) <= max_relevant)
    keep = sorted(rng.choice(qids, size=min(n_queries, len(qids)), replace=False).tolist())
    relevant = {doc for q in keep for doc in bench.qrels[q]}
    others = [i for i, d in enumerate(bench.corpus) if str(d["_id"]) not in relevant]
    picked = set(rng.choice(len(others), size=min(n_others, len(others)), replace=False).tolist())
    chosen = {others[i] for i in picked}
    # corpus order is kept, so a subset is a plain filter of the original file
    corpus = [d for i, d in enumerate(bench.corpus) if str(d["_id"]) in relevant or i in chosen]

    dest = Path(dest)
    (dest / "qrels").mkdir(parents=True, exist_ok=True)
    _write_jsonl(dest / "corpus.jsonl", corpus)
    _write_jsonl(dest / "queries.jsonl", ({"_id": q, "text": bench.queries[q]} for q in keep))
    with (dest / "qrels" / "test.tsv").open("w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for q in keep:
            for doc, score in bench.qrels[q].items():
                fh.write(f"{q}\t{doc}\t{score}\n")
    return dest


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def benchmark_folders(names: Iterable[str] = BENCHMARKS, *, full: bool | None = None) -> dict[str, Path]:
    """The benchmark folders a notebook evaluates on.

    Args:
        names: benchmark folder names under <shared>/benchmarks.
        full: True for the full dev folders, False for seeded subsets in a temporary directory;
            None reads env NOTEBOOK_FULL.

    Returns:
        name -> BEIR folder (the subset folders keep the benchmark's name, so its direction can be read from it).
    """
    root = benchmarks_root()
    full = full_mode() if full is None else full
    if full:
        return {name: root / name for name in names}
    n_queries, n_others, seed = subset_size()
    tmp = Path(tempfile.mkdtemp(prefix="matcher-nb-bench-"))
    return {name: make_subset(root / name, tmp / name, n_queries=n_queries, n_others=n_others, seed=seed) for name in names}


def describe_mode() -> str:
    """One line saying which benchmarks the notebook runs on (for the notebook's output)."""
    if full_mode():
        return f"FULL mode: the dev benchmarks in {benchmarks_root()}"
    n_queries, n_others, seed = subset_size()
    return (f"CI mode: {n_queries} queries per benchmark (at most {MAX_RELEVANT} relevant documents each), "
            f"corpus = their relevant documents + {n_others} others (seed {seed}); "
            f"set {FULL_ENV}=1 for the full dev benchmarks")


def use_cjk_font() -> str | None:
    """Make matplotlib draw Chinese labels with an installed CJK font; silently keep the default if there is none.

    Returns:
        The font family used, or None.
    """
    import matplotlib
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    family = next((name for name in CJK_FONTS if name in installed), None)
    if family:
        matplotlib.rcParams["font.sans-serif"] = [family, *matplotlib.rcParams["font.sans-serif"]]
        matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["axes.unicode_minus"] = False
    return family
