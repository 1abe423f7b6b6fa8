"""Held-out benchmark sets built from the shared data, for checking that a gain on the dev sets is real.

The dev benchmarks (c2p-dev, p2c-dev, kw2p-dev) are where fusion weights and recipes are chosen. These sets ask
the same kinds of question of data that nothing was chosen or trained on:

- ``p2c-other``: each shared patent filed by a registered company that no dev benchmark judges (the "other
  filers", left out of every trained model by `matcher.lab.folds.training_exclusions`) asks for the company
  that filed it, among p2c-dev's 20,231 profiles.
- ``c2p-other``: the mirror: each of those companies asks for the patents it filed, among c2p-dev's 4,097 patents.
  Its queries are the companies' profiles as p2c-dev's corpus stores them, so `matcher lab evaluate` asks them as
  stored records (with the reciprocal signal) when p2c-other lies beside it.

They are for reporting, never for choosing a setting. There is no held-out keyword set: the shared data has no
other keyphrase source of kw2p-dev's kind (CSL's author keywords nearly all occur in their abstract; as
keyword -> abstract queries they score nDCG@10 0.98 with BM25 alone, too easy to tell methods apart).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from matcher.errors import InputError
from matcher.lab.evaluate import load_beir, write_beir
from matcher.index.atomic import atomic_dir
from matcher.index.portfolio import applicant_keys
from matcher.text.normalize import company_key
from matcher.lab.folds import dev_companies

HELD_OUT_SETS = ("p2c-other", "c2p-other")


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise InputError(f"{path} is missing: {what}", hint="pass --shared-dir (the folder with data/ and benchmarks/)")
    return path


def _write(target: Path, queries: dict[str, str], qrels: dict[str, dict[str, int]], corpus_file: Path) -> Path:
    """Write one BEIR folder through a temporary sibling, so a failed build leaves the previous one in place."""
    with atomic_dir(target) as tmp:
        write_beir(tmp, queries, qrels, corpus_file)
    return target


def _companies(shared: Path) -> list[dict]:
    """p2c-dev's company profiles: the companies p2c-other asks for and c2p-other asks as."""
    p2c = _require(shared / "benchmarks" / "p2c-dev", "the p2c-dev benchmark (its corpus is the registered companies)")
    return load_beir(p2c).corpus


def _filed_by_other_filers(shared: Path, companies: list[dict]) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """The shared patents filed by registered companies that no dev benchmark judges (and by no dev company):
    patent id -> "TITLE。ABSTRACT", and patent id -> {filer's p2c-dev corpus id: 1}."""
    ids_by_key: dict[str, list[str]] = {}
    for doc in companies:
        ids_by_key.setdefault(company_key(str(doc.get("title") or "")), []).append(str(doc["_id"]))
    dev = dev_companies(shared)
    patents_csv = _require(shared / "data" / "bdci_patents" / "patents.csv", "the shared patents with their applicants")
    patents = pd.read_csv(patents_csv, dtype=str).fillna("")
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for row in patents.itertuples(index=False):
        keys = applicant_keys(row.applicant)
        if any(k in dev for k in keys):
            continue
        found = {cid: 1 for k in keys for cid in ids_by_key.get(k, [])}
        if found:
            queries[row.id], qrels[row.id] = f"{row.title}。{row.abstract}", found
    return queries, qrels


def other_filers_p2c(shared_dir: str | Path, out_dir: str | Path) -> Path:
    """p2c-other: each patent filed by a registered filer that no dev benchmark judges asks for its filer.

    Patents that a dev company co-filed are left out. The corpus is p2c-dev's.

    Returns:
        out_dir / "p2c-other".
    """
    shared = Path(shared_dir)
    queries, qrels = _filed_by_other_filers(shared, _companies(shared))
    return _write(Path(out_dir) / "p2c-other", queries, qrels, shared / "benchmarks" / "p2c-dev" / "corpus.jsonl")


def build_held_out(shared_dir: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Build every held-out set under out_dir (each folder replaced atomically).

    p2c-other as `other_filers_p2c`; c2p-other its mirror: each of those filers asks for the patents it filed, the
    query being the company's stored profile ("NAME。经营范围：...", as c2p-dev's queries are) under its p2c-dev corpus
    id, over c2p-dev's corpus.

    Returns:
        {name: folder} in the order of `HELD_OUT_SETS`.
    """
    shared, out = Path(shared_dir), Path(out_dir)
    companies = _companies(shared)
    c2p = _require(shared / "benchmarks" / "c2p-dev", "the c2p-dev benchmark (its corpus is the patents asked for)")
    patents, filers = _filed_by_other_filers(shared, companies)
    asked: dict[str, dict[str, int]] = {}
    for patent, judged in filers.items():
        for company in judged:
            asked.setdefault(company, {})[patent] = 1
    by_id = {str(d["_id"]): d for d in companies}
    profiles = {cid: f"{by_id[cid].get('title') or ''}。{by_id[cid].get('text') or ''}" for cid in asked}
    return {"p2c-other": _write(out / "p2c-other", patents, filers, shared / "benchmarks" / "p2c-dev" / "corpus.jsonl"),
            "c2p-other": _write(out / "c2p-other", profiles, asked, c2p / "corpus.jsonl")}
