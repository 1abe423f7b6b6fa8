"""Helpers of the writer tests (test_writers.py, test_faults.py): `matcher` in subprocesses, index copies, new
records, and a snapshot of what an index holds and answers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from matcher.engine import Matcher
from matcher.index.collection import CONTENT
from matcher.schema import Kind

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo"
PATENTS = DEMO / "patents.csv"
ENTERPRISES = DEMO / "enterprises.csv"

# (query, target): free text both ways and stored records both ways
QUERIES = [("可降解薄膜 包装", Kind.PATENT), ("数控机床 精密加工", Kind.ENTERPRISE),
           ((Kind.ENTERPRISE, "DEMO-D-002"), Kind.PATENT), ((Kind.PATENT, "DEMO-P-007"), Kind.ENTERPRISE)]


def matcher_proc(*args, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start `python -m pipelines.main ARGS` (the `matcher` command) in the project root, with the test session's
    environment (MATCHER_ENCODER: the fast test encoder) plus `env`; stdout and stderr are pipes (text)."""
    return subprocess.Popen([sys.executable, "-m", "pipelines.main", *map(str, args)], cwd=ROOT,
                            env={**os.environ, "COLUMNS": "200", **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")


def copy_index(index: Path, to: Path) -> Path:
    """A private copy of a saved index folder (at `to`)."""
    shutil.copytree(index, to)
    return to


def new_records(path: Path, kind: Kind, ids: list[str], *, start: int = 0) -> Path:
    """A CSV of demo records of `kind` (rows `start`, `start + 1`, ...) under new ids."""
    frame = pd.read_csv(PATENTS if kind == Kind.PATENT else ENTERPRISES, dtype=str, keep_default_na=False)
    rows = frame.iloc[start:start + len(ids)].copy()
    rows["id"] = ids
    rows.to_csv(path, index=False)
    return path


def snapshot(index: Path, config) -> dict:
    """What the index holds (per kind: sorted (id, indexed text)) and answers (ids and scores of QUERIES, top 5)."""
    matcher = Matcher.load(index, config)
    held = {kind.value: sorted(zip(matcher.collection(kind).records["id"], matcher.collection(kind).records[CONTENT]))
            for kind in matcher.kinds}
    answers = []
    for query, target in QUERIES:
        if isinstance(query, tuple):
            if query[1] not in matcher.collection(query[0]):
                continue
            query = matcher.query_for(*query)
        result = matcher.search(query, target, k=5, explain=False)[0]
        answers.append([(m.target_id, round(m.score, 6)) for m in result.matches])
    return {"records": held, "answers": answers}


def leftovers(index: Path) -> list[str]:
    """Work files of writers beside the index (temporary folders, the backup of a swap)."""
    return sorted(p.name for p in index.parent.iterdir() if p.name.startswith(f".{index.name}"))
