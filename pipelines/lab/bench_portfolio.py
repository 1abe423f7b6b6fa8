"""Benchmark of the portfolio signal: rank with the patents an enterprise already holds, ownership held out by fold.

The BEIR benchmarks in ../shared carry no applicants, so the portfolio signal (matcher.index.portfolio) never
fires there. This benchmark builds the setting where it does, from the same real data: the bdci patents with
their applicants and the registered companies, linked by name exactly as the engine links any ingested data.
Every held patent (applicant = a registered company) is put in one of `--folds` folds by a hash of its id; for
fold k the applicants of fold-k patents are blanked (their owner is unknown to the engine) and

- patent -> enterprise: each fold-k patent asks for its owner, which may hold other (known) patents;
- enterprise -> patent: each owner of a fold-k patent asks for patents; its known patents are its portfolio
  (and are excluded from its results, as in the product), its fold-k patents are the answers.

Fusion settings are chosen on the queries of the dev benchmarks' companies and reported on those and on every
other company's queries (never used to choose), with and without the portfolio signal.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import pandas as pd
import typer

from matcher.config import Direction, FusionConfig, load_config
from matcher.engine import Matcher
from matcher.lab.evaluate import METRICS, Benchmark
from matcher.index.portfolio import FLOOR_QUANTILE, Portfolio, chance_similarity
from matcher.rank.scorers import floored
from matcher.schema import Kind, schema_for
from matcher.signals import Signals
from matcher.lab.folds import benchmark_exclusions
from matcher.text.normalize import SCOPE_PREFIX
from matcher.text.normalize import company_key
from matcher.lab.tuning import PORTFOLIO, CandidatePools, cross_validate_selection, default_settings, pooling_config, pools_from_results, query_table

SCORERS = ("dense", "bm25", "items", PORTFOLIO)
DIRECTIONS = {"p2c": (Kind.PATENT, Kind.ENTERPRISE, Direction.PATENT_TO_ENTERPRISE),
              "c2p": (Kind.ENTERPRISE, Kind.PATENT, Direction.ENTERPRISE_TO_PATENT)}

app = typer.Typer(add_completion=False)


def shared_frames(shared_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The bdci patents (with applicants) and the registered companies as canonical records.

    Company texts are written as the BEIR benchmarks write them ("经营范围：..."), so embeddings cached by
    `matcher lab evaluate` are reused.
    """
    patents = pd.read_csv(shared_dir / "data" / "bdci_patents" / "patents.csv", dtype=str).fillna("")
    registry = pd.read_csv(shared_dir / "data" / "registry" / "companies_20k.csv", dtype=str).fillna("")
    patents = patents.reindex(columns=schema_for(Kind.PATENT).columns, fill_value="")
    companies = pd.DataFrame({"id": registry["id"], "name": registry["企业名称"],
                              "text": [SCOPE_PREFIX + s if s else "" for s in registry["经营范围"]]})
    companies = companies[companies["text"] != ""].reindex(columns=schema_for(Kind.ENTERPRISE).columns, fill_value="")
    return patents.reset_index(drop=True), companies.reset_index(drop=True)


def ownership(patents: pd.DataFrame, companies: pd.DataFrame) -> list[tuple[str, str]]:
    """(company id, patent id) for every patent whose applicant names a company (the engine's own link)."""
    link = Portfolio.link(patents, companies)
    return [(companies.at[e, "id"], patents.at[p, "id"]) for e in link.holders for p in link.patents_of(e)]


def patent_fold(patent_id: str, folds: int) -> int:
    """The fold of a held patent (a stable hash of its id)."""
    return zlib.crc32(str(patent_id).encode("utf-8")) % folds


class UnflooredSignals(Signals):
    """The engine's signals with the portfolio floor at 0, so the pools keep every held patent's cosine."""

    @property
    def portfolio_floor(self) -> float:
        return 0.0


def collect(matcher: Matcher, patents: pd.DataFrame, companies: pd.DataFrame, owned: Sequence[tuple[str, str]],
            folds: int) -> dict[str, CandidatePools]:
    """Index everything, then per fold blank the fold's applicants and search both directions (whole pools).

    The portfolio component is collected without a floor (`with_floor` applies one afterwards).

    Returns:
        Per direction ("p2c", "c2p"), the candidate pools of all folds' queries with every scorer's component.
    """
    matcher.signals = UnflooredSignals(matcher)
    matcher.index(Kind.ENTERPRISE, companies)
    fold_of = {pid: patent_fold(pid, folds) for _, pid in owned}
    runs: dict[str, dict] = {d: {"qids": [], "results": [], "queries": {}, "qrels": {}} for d in DIRECTIONS}
    for fold in range(folds):
        hidden = {pid for pid, f in fold_of.items() if f == fold}
        frame = patents.copy()
        frame.loc[frame["id"].isin(hidden), "applicant"] = ""
        matcher.index(Kind.PATENT, frame)
        answers = {"p2c": {}, "c2p": {}}
        for cid, pid in owned:
            if pid in hidden:
                answers["p2c"].setdefault(pid, {})[cid] = 1
                answers["c2p"].setdefault(cid, {})[pid] = 1
        for name, (source, target, _) in DIRECTIONS.items():
            ids = sorted(answers[name])
            queries = [matcher.query_for(source, i) for i in ids]
            run = runs[name]
            run["results"].extend(matcher.candidate_pools(queries, target))
            for i, q in zip(ids, queries):
                qid = f"{i}@{fold}"
                run["qids"].append(qid)
                run["queries"][qid] = q.text
                run["qrels"][qid] = answers[name][i]
    return {name: pools_from_results(Benchmark(f"{name}-portfolio", [], run["queries"], run["qrels"]), run["qids"], run["results"], SCORERS)
            for name, run in runs.items()}


def with_floor(pools: CandidatePools, floor: float) -> CandidatePools:
    """The pools (collected without a floor) with the portfolio component floored: max(0, cosine - floor)."""
    scores = [{**s, PORTFOLIO: floored(s[PORTFOLIO], floor)} for s in pools.scores]
    return CandidatePools(pools.bench, pools.qids, pools.ids, scores)


def company_of_query(qid: str, pools: CandidatePools, names: dict[str, str], direction: str) -> str:
    """The company a query is about: the querying company (c2p) or the owner being asked for (p2c)."""
    if direction == "c2p":
        return names[qid.rsplit("@", 1)[0]]
    return names[next(iter(pools.bench.qrels[qid]))]


def report(pools: CandidatePools, dev: np.ndarray, shipped: FusionConfig, floors: Sequence[float],
           weights: Sequence[float] = (0.25, 0.5, 1.0, 2.0)) -> list[dict]:
    """Metrics on the dev-company queries and on the other queries for: the shipped setting without a portfolio
    weight, the best setting without one (chosen on dev), and per floor the shipped setting plus each portfolio
    weight and the best setting with one (chosen on dev, with its cross-validated held-out estimate)."""
    rows = []

    def mean(rows: np.ndarray) -> np.ndarray:
        return rows.mean(axis=0) if len(rows) else np.full(rows.shape[1], np.nan)

    def row(label: str, table: np.ndarray, i: int, floor: float, setting: FusionConfig) -> dict:
        dev_m, other_m = mean(table[i][dev]), mean(table[i][~dev])
        return {"setting": label, "floor": floor, "method": setting.method,
                **{f"w_{n}": setting.weights.get(n, 0.0) for n in SCORERS},
                **{f"dev_{m}": round(float(v), 4) for m, v in zip(METRICS, dev_m)},
                **{f"other_{m}": round(float(v), 4) for m, v in zip(METRICS, other_m)}}

    shipped = shipped.model_copy(update={"weights": {n: w for n, w in shipped.weights.items() if n != PORTFOLIO}})
    settings = default_settings(scorers=SCORERS)
    without = [shipped, *(s for s in settings if not s.weights.get(PORTFOLIO))]
    base = query_table(pools, without)
    rows.append(row("shipped, no portfolio", base, 0, 0.0, shipped))
    best = 1 + int(np.argmax(base[1:, dev, 0].mean(axis=1)))
    rows.append(row("best without portfolio", base, best, 0.0, without[best]))
    plus = [shipped.model_copy(update={"weights": {**shipped.weights, PORTFOLIO: w}}) for w in weights]
    for floor in floors:
        floored = with_floor(pools, floor)
        table = query_table(floored, plus)
        rows.extend(row(f"shipped + portfolio {w:g}", table, j, floor, plus[j]) for j, w in enumerate(weights))
        table = query_table(floored, settings)
        i = int(np.argmax(table[:, dev, 0].mean(axis=1)))
        rows.append(row("best with portfolio", table, i, floor, settings[i]))
        rows[-1]["dev_heldout_ndcg@10"] = round(cross_validate_selection(table[:, dev]).metrics["ndcg@10"], 4)
    return rows


@app.command()
def main(
    shared_dir: Annotated[Path, typer.Option("--shared-dir", help="folder with data/ and benchmarks/")] = Path("../shared"),
    config: Annotated[Optional[Path], typer.Option("--config")] = None,
    encoder: Annotated[Optional[str], typer.Option("--encoder", help="wins over --config")] = None,
    folds: Annotated[int, typer.Option("--folds", min=2)] = 2,
    pool: Annotated[int, typer.Option("--pool")] = 200,
    floors: Annotated[str, typer.Option("--floors", help="portfolio floors to compare")] = "0,0.2,0.3,0.4",
    out: Annotated[Optional[Path], typer.Option("--out", help="JSON with every row")] = None,
) -> None:
    """Print nDCG@10 / Recall@100 / MRR@10 with and without the portfolio signal, per direction."""
    patents, companies = shared_frames(shared_dir)
    owned = ownership(patents, companies)
    cfg = load_config(config, encoder=encoder)
    matcher = Matcher(pooling_config(cfg, pool, scorers=SCORERS))
    pools = collect(matcher, patents, companies, owned, folds)
    coll = matcher.collection(Kind.PATENT)  # the floor the engine uses on these patents (Signals.portfolio_floor)
    engine_floor = chance_similarity(coll.dense.vectors(coll.records.index.to_numpy()), FLOOR_QUANTILE)
    print(f"engine floor on these patents: {engine_floor:.3f} (quantile {FLOOR_QUANTILE:g} of random patent pairs)")
    floor_list = sorted({float(f) for f in floors.split(",")} | {round(engine_floor, 3)})
    dev_companies = benchmark_exclusions([shared_dir / "benchmarks" / n for n in ("c2p-dev", "p2c-dev")]).companies
    names = dict(zip(companies["id"], companies["name"].map(company_key)))
    print(f"{len(owned)} held patents of {len({c for c, _ in owned})} registered companies, {folds} folds")
    out_rows = {}
    for name, (_, _, direction) in DIRECTIONS.items():
        p = pools[name]
        dev = np.array([company_of_query(q, p, names, name) in dev_companies for q in p.qids])
        rows = report(p, dev, cfg.fusion_for(direction), floor_list)
        out_rows[name] = rows
        print(f"\n{name}: {int(dev.sum())} dev-company queries (choose), {int((~dev).sum())} other queries (report only)")
        shown = pd.DataFrame(rows).drop(columns=["dev_recall@10", "other_recall@10"])
        print(shown.rename(columns=lambda c: c.replace("recall@", "R@").replace("ndcg@", "nDCG@")).to_string(index=False))
    if out:
        out.write_text(json.dumps(out_rows, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    app()
