"""The judged demand -> patent pool: sample demands, rank them with several systems, pool the top and write packets."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.config import Direction, FusionConfig, MatcherConfig
from matcher.errors import InputError
from matcher.schema import Kind, record_text

MIN_DEMAND_CHARS = 20
"""Demands whose cleaned description is shorter than this are never sampled (nothing to judge a patent against)."""

BATCH_PAIRS = 400
"""About this many pairs per judging packet (whole demands only)."""

DOUBLE_PAIRS = 220
"""Pairs sampled from all packets to be judged a second time, by another judge (Cohen's kappa)."""


@dataclass(frozen=True)
class System:
    """One ranking system of the pool: the product engine with a fusion override, asked one way.

    Attributes:
        name: the run's name (runs/<name>.trec, the `systems` column of pool.tsv).
        as_record: ask the demand as the stored enterprise record it is (enterprise -> patent, the reciprocal
            signal on) rather than as pasted text (text -> patent).
        weights: the fusion weights of the direction asked (None: the configured default).
        description: one line for the report.
    """

    name: str
    as_record: bool
    weights: Mapping[str, float] | None
    description: str


SYSTEMS: tuple[System, ...] = (
    System("bm25", False, {"bm25": 1.0}, "BM25 alone (demand as pasted text)"),
    System("dense", False, {"dense": 1.0}, "USE-m3 cosine alone (demand as pasted text)"),
    System("default-text", False, None, "the default engine, demand as pasted text (text -> patent)"),
    System("default-record", True, None, "the default engine, demand as a stored record (enterprise -> patent, "
                                         "reciprocal signal on)"),
)


def system_config(base: MatcherConfig, system: System) -> MatcherConfig:
    """The engine configuration of one pool system: `base` with the fusion weights of its direction replaced.

    Args:
        base: the configuration the index was built with.
        system: the system.

    Returns:
        A copy of `base` (the same one when the system keeps the default weights).
    """
    if system.weights is None:
        return base
    direction = Direction.ENTERPRISE_TO_PATENT if system.as_record else Direction.TEXT_TO_PATENT
    default = base.fusion_for(direction)
    fusion = {**base.fusion, direction: FusionConfig(method="weighted", weights=dict(system.weights),
                                                     rrf_k=default.rrf_k, query_segment_mode=default.query_segment_mode)}
    return base.model_copy(update={"fusion": fusion})


def sample_demands(demands: pd.DataFrame, n: int, seed: int, min_chars: int = MIN_DEMAND_CHARS) -> pd.DataFrame:
    """Demands drawn at random (without replacement) among those with a description of `min_chars` or more.

    Args:
        demands: canonical enterprise records of the demands (id, name, text, ...), as the source adapter reads them.
        n: how many to draw (all eligible ones when fewer).
        seed: the random seed.
        min_chars: the shortest cleaned description kept.

    Returns:
        The drawn records, in id order.

    Raises:
        InputError: no demand is long enough.
    """
    eligible = demands[demands["text"].astype(str).str.strip().str.len() >= min_chars]
    if eligible.empty:
        raise InputError(f"no demand has a description of {min_chars} characters or more", hint="check the demands file")
    order = np.random.default_rng(seed).permutation(len(eligible))[: min(n, len(eligible))]
    return eligible.iloc[np.sort(order)].reset_index(drop=True)


def demand_text(row: Mapping) -> str:
    """A demand as an officer pastes it: its name and description joined as the engine joins them."""
    return record_text(row, Kind.ENTERPRISE)


def run_systems(matcher, demands: pd.DataFrame, depth: int, systems: Sequence[System] = SYSTEMS,
                show_progress: bool = False) -> dict[str, dict[str, list[tuple[str, float]]]]:
    """Rank the patents for every demand with each system, on one index.

    Args:
        matcher: a `matcher.engine.Matcher` holding the patents and the demands (as enterprise records).
        demands: the demand records (id, name, text).
        depth: how many patents each system returns per demand.
        systems: the systems.
        show_progress: show progress bars.

    Returns:
        system name -> demand id -> (patent id, score) pairs, best first.
    """
    from matcher.engine import Query  # the lab sits above the engine

    base = matcher.config
    runs: dict[str, dict[str, list[tuple[str, float]]]] = {}
    ids = demands["id"].astype(str).tolist()
    texts = [demand_text(row) for row in demands.to_dict("records")]
    try:
        for system in systems:
            matcher.config = system_config(base, system)
            queries = [Query(t, kind=Kind.ENTERPRISE, id=i) if system.as_record else Query(t) for i, t in zip(ids, texts)]
            results = matcher.search(queries, Kind.PATENT, k=depth, explain=False, show_progress=show_progress)
            runs[system.name] = {i: [(m.target_id, float(m.score)) for m in res.matches] for i, res in zip(ids, results)}
    finally:
        matcher.config = base
    return runs


def pool_runs(runs: Mapping[str, Mapping[str, Sequence[tuple[str, float]]]]) -> dict[tuple[str, str], dict[str, int]]:
    """The pool: every (demand, patent) pair some system ranked, with each such system's rank (1 = first).

    Args:
        runs: system -> demand id -> (patent id, score) pairs, best first.

    Returns:
        (demand id, patent id) -> {system: rank}, in the order the pairs were first met.
    """
    pool: dict[tuple[str, str], dict[str, int]] = {}
    for system, run in runs.items():
        for qid, ranked in run.items():
            for rank, (doc, _) in enumerate(ranked, 1):
                pool.setdefault((qid, doc), {})[system] = rank
    return pool


def pair_id(query_id: str, doc_id: str) -> str:
    """The stable id of a (demand, patent) pair: the same pair keeps it when a new system re-pools."""
    return f"{query_id}~{doc_id}"


def split_batches(groups: Sequence[Sequence[dict]], size: int = BATCH_PAIRS) -> list[list[dict]]:
    """Cut query groups into packets of about `size` pairs, never splitting a query's group.

    Args:
        groups: each query's pairs, in packet order.
        size: the target pairs per packet.

    Returns:
        The packets (ceil(total / size) of them, as even as whole groups allow).
    """
    total = sum(len(g) for g in groups)
    if not total:
        return []
    n = max(1, math.ceil(total / size))
    share = total / n
    batches: list[list[dict]] = [[] for _ in range(n)]
    start = 0
    for group in groups:
        middle = start + len(group) / 2
        batches[min(n - 1, int(middle // share))].extend(group)
        start += len(group)
    return [b for b in batches if b]


def packets(pool: Mapping[tuple[str, str], Mapping[str, int]], demands: Mapping[str, str], patents: pd.DataFrame,
            seed: int, size: int = BATCH_PAIRS, double: int = DOUBLE_PAIRS) -> tuple[list[list[dict]], list[dict]]:
    """The judging packets: every pooled pair once, grouped by demand, demands and their candidates in random order
    (no system's ranking shows through), plus the double-judging sample.

    Args:
        pool: the pool of `pool_runs`.
        demands: demand id -> its text as pasted.
        patents: canonical patent records (id, title, abstract).
        seed: the random seed.
        size: about this many pairs per packet.
        double: pairs to sample for a second judgement (all when fewer).

    Returns:
        (packets, double packet): each pair a dict {pair_id, query_id, doc_id, demand, patent_title, patent_abstract};
        the double packet's pairs also carry `batch` (the packet number of their first judgement).
    """
    rng = np.random.default_rng(seed)
    by_id = patents.assign(id=patents["id"].astype(str)).set_index("id")
    by_query: dict[str, list[str]] = {}
    for qid, doc in pool:
        by_query.setdefault(qid, []).append(doc)
    groups = []
    for qid in [sorted(by_query)[i] for i in rng.permutation(len(by_query))]:
        docs = by_query[qid]
        groups.append([{"pair_id": pair_id(qid, docs[i]), "query_id": qid, "doc_id": docs[i], "demand": demands[qid],
                        "patent_title": str(by_id.at[docs[i], "title"]), "patent_abstract": str(by_id.at[docs[i], "abstract"])}
                       for i in rng.permutation(len(docs))])
    batches = split_batches(groups, size)
    numbered = [dict(pair, batch=b) for b, batch in enumerate(batches, 1) for pair in batch]
    chosen = np.sort(rng.choice(len(numbered), size=min(double, len(numbered)), replace=False))
    return batches, [numbered[i] for i in chosen]


def check_out(out: str | Path, force: bool = False) -> Path:
    """The pool folder, checked before any work: it may be replaced only with `force`, and never when it holds
    judgements.

    Raises:
        InputError: the folder exists (without `force`) or holds judgements.
    """
    out = Path(out)
    if out.exists():
        if any((out / "judgements").glob("*.tsv")):
            raise InputError("the folder already holds judgements; pool into a new folder", file=str(out))
        if not force and (not out.is_dir() or any(out.iterdir())):
            raise InputError("the folder exists", file=str(out), hint="pass --force to replace it, or choose another --out")
    return out


def _jsonl(path: Path, rows: Sequence[Mapping]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def write_pool(out: str | Path, patents: pd.DataFrame, demands: pd.DataFrame,
               runs: Mapping[str, Mapping[str, Sequence[tuple[str, float]]]], *, seed: int, meta: Mapping | None = None,
               size: int = BATCH_PAIRS, double: int = DOUBLE_PAIRS, force: bool = False) -> dict:
    """Write the pool folder: corpus.jsonl, queries.jsonl, demands.jsonl, pool.tsv, runs/<system>.trec,
    packets/batch-XX.jsonl, packets/double.jsonl and pool.json (the counts and settings); queries.jsonl carries each
    demand's classification and cooperation where the source gives them.

    The folder is written beside `out` and moved into place when complete, so a failed run leaves nothing half
    written; an existing folder is replaced only with `force`, and never when it holds judgements.

    Args:
        out: the folder.
        patents: canonical patent records (the corpus).
        demands: the sampled demand records.
        runs: system -> demand id -> (patent id, score) pairs, best first.
        seed: the random seed of the packets' order and the double sample.
        meta: more settings to record in pool.json.
        size: about this many pairs per packet.
        double: pairs to judge twice.
        force: replace an existing folder without judgements.

    Returns:
        The contents of pool.json.

    Raises:
        InputError: the folder exists (without `force`) or holds judgements.
    """
    from matcher.lab.evaluate import write_run

    out = check_out(out, force)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        texts = {str(r["id"]): demand_text(r) for r in demands.to_dict("records")}
        _jsonl(tmp / "corpus.jsonl", [{"_id": str(r["id"]), "title": str(r["title"]), "text": str(r["abstract"])}
                                      for r in patents.to_dict("records")])
        # metadata under the source's names: classification (the records' industry) and cooperation, where given
        _jsonl(tmp / "queries.jsonl", [{"_id": str(r["id"]), "text": texts[str(r["id"])],
                                        **{name: str(r[k]) for name, k in (("classification", "industry"), ("cooperation", "cooperation"))
                                           if str(r.get(k) or "").strip()}}
                                       for r in demands.to_dict("records")])
        _jsonl(tmp / "demands.jsonl", [{"_id": str(r["id"]), "title": str(r["name"]), "text": str(r["text"])}
                                       for r in demands.to_dict("records")])
        for name, run in runs.items():
            write_run(tmp / "runs" / f"{name}.trec", run, tag=name)
        pool = pool_runs(runs)
        lines = ["pair_id\tquery_id\tdoc_id\tsystems\tbest_rank\n"]
        lines += [f"{pair_id(q, d)}\t{q}\t{d}\t{','.join(f'{s}:{r}' for s, r in ranks.items())}\t{min(ranks.values())}\n"
                  for (q, d), ranks in pool.items()]
        (tmp / "pool.tsv").write_text("".join(lines), encoding="utf-8")
        batches, twice = packets(pool, texts, patents, seed, size, double)
        for b, batch in enumerate(batches, 1):
            _jsonl(tmp / "packets" / f"batch-{b:02d}.jsonl", batch)
        _jsonl(tmp / "packets" / "double.jsonl", twice)
        (tmp / "judgements").mkdir()
        summary = {
            **(meta or {}), "seed": seed, "demands": len(demands), "patents": len(patents), "pool_pairs": len(pool),
            "systems": {s.name: s.description for s in SYSTEMS if s.name in runs},
            "pairs_per_system": {name: sum(len(r) for r in run.values()) for name, run in runs.items()},
            "only_in_system": {name: sum(1 for ranks in pool.values() if list(ranks) == [name]) for name in runs},
            "batches": {f"batch-{b:02d}": len(batch) for b, batch in enumerate(batches, 1)},
            "double_pairs": len(twice),
        }
        (tmp / "pool.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary
