"""Dev-company folds: which company <-> patent labels of the shared data may be trained on, and which are held out.

Only the labels of the dev benchmarks' companies (c2p-dev queries, p2c-dev answers) may be trained on. Every other
registered company that filed a patent in the shared patents is a possible answer of a held-out benchmark, so it
is left out of every company-derived training group (its links, its name and scope). For an honest dev number the
dev companies are split into folds by a hash of the name (`company_fold`); a model trained with `holdout_fold=k`
never sees the companies of fold k, and is scored on the dev queries of that fold only (`fold_query_ids`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from matcher.text.normalize import company_key

DEV_BENCHMARKS = ("c2p-dev", "p2c-dev", "kw2p-dev")


@dataclass
class BenchmarkExclusions:
    """Company <-> patent labels that must never be trained on.

    Attributes:
        companies: company names (left out of every company-derived pair group).
        patent_ids: patent ids whose link to a company is a label being measured (never paired with their
            applicant).
    """

    companies: set[str] = field(default_factory=set)
    patent_ids: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.companies)


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON Lines file (blank lines skipped)."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _qrels(path: Path) -> list[tuple[str, str]]:
    frame = pd.read_csv(path, sep="\t", dtype=str)
    frame = frame[pd.to_numeric(frame["score"], errors="coerce").fillna(0) > 0]
    return list(zip(frame["query-id"], frame["corpus-id"]))


def company_name_of(profile: str) -> str:
    """The company name at the head of a profile text "NAME。经营范围：...".

    Args:
        profile: a company profile as the benchmarks write it.

    Returns:
        The name (the text before the first "。"), stripped.
    """
    return profile.split("。", 1)[0].strip()


def benchmark_exclusions(benchmark_dirs: Iterable[str | Path]) -> BenchmarkExclusions:
    """Collect the companies and patents that the dev benchmarks query or judge.

    Folders are recognised by name: c2p-* (queries are company profiles, answers patents) and p2c-*
    (queries are patents, answers company profiles whose title is the name). Other folders, and folders
    that do not exist, are skipped.

    Args:
        benchmark_dirs: BEIR folders.

    Returns:
        The exclusion sets.
    """
    out = BenchmarkExclusions()
    for folder in map(Path, benchmark_dirs):
        if not (folder / "queries.jsonl").is_file():
            continue
        name = folder.name.lower()
        if name.startswith("c2p"):
            for query in read_jsonl(folder / "queries.jsonl"):
                out.companies.add(company_key(company_name_of(str(query.get("text", "")))))
            out.patent_ids.update(doc for _, doc in _qrels(folder / "qrels" / "test.tsv"))
        elif name.startswith("p2c"):
            titles = {str(d["_id"]): str(d.get("title") or "") for d in read_jsonl(folder / "corpus.jsonl")}
            for query_id, doc in _qrels(folder / "qrels" / "test.tsv"):
                out.patent_ids.add(query_id)
                if titles.get(doc):
                    out.companies.add(company_key(titles[doc]))
    out.companies.discard("")
    return out


def dev_companies(shared_dir: str | Path) -> set[str]:
    """The company keys that the dev benchmarks (`DEV_BENCHMARKS` under shared_dir/benchmarks) query or judge."""
    return benchmark_exclusions(Path(shared_dir) / "benchmarks" / name for name in DEV_BENCHMARKS).companies


def company_fold(name: str, folds: int) -> int:
    """The cross-validation fold of a company (a stable hash of its name, the same on every machine).

    Args:
        name: the company name.
        folds: number of folds (>= 2).

    Returns:
        0 .. folds - 1.
    """
    return zlib.crc32(company_key(name).encode("utf-8")) % folds


def is_company_benchmark(folder: str | Path) -> bool:
    """Whether a BEIR folder judges company <-> patent links (c2p-*, p2c-*): the labels trained on."""
    return Path(folder).name.lower().startswith(("c2p", "p2c"))


def fold_query_ids(folder: str | Path, fold: int, folds: int) -> set[str] | None:
    """The queries of a c2p-* or p2c-* benchmark whose company falls in `fold`.

    Args:
        folder: the BEIR folder (c2p: the query is the company; p2c: the judged answer is).
        fold: the fold.
        folds: number of folds.

    Returns:
        Query ids; None for benchmarks without a company side (kw2p-*).
    """
    folder = Path(folder)
    name = folder.name.lower()
    if not is_company_benchmark(folder):
        return None
    if name.startswith("c2p"):
        return {
            str(q["_id"]) for q in read_jsonl(folder / "queries.jsonl")
            if company_fold(company_name_of(str(q.get("text", ""))), folds) == fold
        }
    titles = {str(d["_id"]): str(d.get("title") or "") for d in read_jsonl(folder / "corpus.jsonl")}
    return {query for query, doc in _qrels(folder / "qrels" / "test.tsv") if company_fold(titles.get(doc, ""), folds) == fold}


def training_exclusions(
    shared_dir: str | Path, *, holdout_fold: int | None = None, folds: int = 2
) -> BenchmarkExclusions:
    """The companies and patents whose company <-> patent link must not be trained on.

    These are every registered company (companies_20k) that filed one of the shared patents, except the
    dev benchmarks' companies outside `holdout_fold`; and the patents those companies filed.

    Args:
        shared_dir: the folder with data/ and benchmarks/.
        holdout_fold: the fold of dev companies to hold out too (None: train on every dev company).
        folds: number of folds.

    Returns:
        The exclusion sets.
    """
    shared = Path(shared_dir)
    dev = dev_companies(shared)
    trainable = {c for c in dev if holdout_fold is None or company_fold(c, folds) != holdout_fold}
    registry = pd.read_csv(shared / "data" / "registry" / "companies_20k.csv", dtype=str, usecols=["企业名称"])
    registered = set(registry["企业名称"].fillna("").map(company_key))
    patents = pd.read_csv(shared / "data" / "bdci_patents" / "patents.csv", dtype=str, usecols=["id", "applicant"])
    applicants = patents["applicant"].fillna("").map(company_key)
    labelled = (set(applicants) & registered) | dev
    excluded = labelled - trainable
    excluded.discard("")
    return BenchmarkExclusions(companies=excluded, patent_ids=set(patents.loc[applicants.isin(excluded), "id"]))
