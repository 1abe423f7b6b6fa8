"""`matcher lab judged ...`: the judged demand -> patent benchmark (pool and packets, then qrels from judgements).

    matcher lab judged pool --out artifacts/judged/d2p [--demands 160] [--seed 0] [--depth 15]
    (judges write judgements/*.tsv from packets/*.jsonl, see docs/judging.md)
    matcher lab judged build --in artifacts/judged/d2p
    matcher lab judged coverage --in artifacts/judged/d2p RUN.trec ...
    matcher lab judged calibrate --in artifacts/judged/d2p --out matcher/rank/resources/confidence-d2p.json
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from matcher.config import PROJECT_ROOT, load_config
from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.ingest import SOURCES, load_source
from matcher.schema import Kind
from pipelines.cli import ConfigOpt, EncoderOpt

app = typer.Typer(help="The judged demand -> patent benchmark: pool candidates of several systems into judging "
                       "packets, then build graded qrels, the dev / test split and Cohen's kappa from the judgements "
                       "(docs/judging.md).", no_args_is_help=True, pretty_exceptions_enable=False)
out = Console()
err = Console(stderr=True)

DEFAULT_OUT = PROJECT_ROOT / "artifacts" / "judged" / "d2p"


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _source(name: str, shared: Optional[Path]):
    """The records of one shared source (its default path under `shared`, else the configured shared folder)."""
    from matcher.ingest import shared_dir

    return load_source(name, (shared or shared_dir()) / SOURCES[name].default_path).frame


@app.command()
def pool(
    out_dir: Annotated[Path, typer.Option("--out", help="The pool folder to write (replaced only with --force).")] = DEFAULT_OUT,
    demands: Annotated[int, typer.Option("--demands", min=1, help="How many demands to sample.")] = 160,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the sample, the packets' order and the double sample.")] = 0,
    depth: Annotated[int, typer.Option("--depth", min=1, help="How many patents each system contributes per demand.")] = 15,
    shared: Annotated[Optional[Path], typer.Option("--shared-dir", help="The shared folder (data/zhibei/demands.jsonl, "
                                                   "data/bdci_patents/patents.csv); default: $MATCHER_SHARED_DIR, else ../shared.")] = None,
    batch_pairs: Annotated[int, typer.Option("--batch-pairs", min=1, help="About this many pairs per packet.")] = 400,
    double: Annotated[int, typer.Option("--double", min=0, help="Pairs sampled for a second judgement.")] = 220,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing pool folder (never one with judgements).")] = False,
    config: ConfigOpt = None,
    encoder: EncoderOpt = None,
) -> None:
    """Sample demands, rank the shared patents for them with every system (BM25, dense, default as text, default as a
    stored record), pool the top --depth of each and write runs, pool.tsv and the judging packets."""
    from matcher.lab.judged import SYSTEMS, check_out, run_systems, sample_demands, write_pool

    t0 = time.perf_counter()
    try:
        check_out(out_dir, force)
        cfg = load_config(config, encoder=encoder)
        patents = _source("bdci_patents", shared)
        sample = sample_demands(_source("zhibei_demands", shared), demands, seed)
        matcher = Matcher(cfg)
        matcher.index(Kind.PATENT, patents, show_progress=True)
        matcher.index(Kind.ENTERPRISE, sample, show_progress=True)
        runs = run_systems(matcher, sample, depth, show_progress=True)
        summary = write_pool(out_dir, patents, sample, runs, seed=seed, size=batch_pairs, double=double, force=force,
                             meta={"depth": depth, "encoder": cfg.encoder})
        del matcher
        gc.collect()
    except (MatcherError, ValueError) as exc:
        _fail(exc)
    table = Table(title=f"pool of {summary['demands']} demands x {summary['patents']:,} patents (top {depth} per system)")
    for col in ("system", "pairs", "only this system", "what it is"):
        table.add_column(col)
    for s in SYSTEMS:
        table.add_row(s.name, str(summary["pairs_per_system"][s.name]), str(summary["only_in_system"][s.name]), s.description)
    out.print(table)
    err.print(f"{summary['pool_pairs']:,} pooled pairs in {len(summary['batches'])} packets, {summary['double_pairs']} "
              f"to judge twice, written to {out_dir} in {time.perf_counter() - t0:.0f} s")
    sys.stdout.flush()
    print(json.dumps(summary, ensure_ascii=False))


@app.command()
def build(
    folder: Annotated[Path, typer.Option("--in", help="The judged pool folder (packets/, judgements/*.tsv).")] = DEFAULT_OUT,
    judgements: Annotated[Optional[Path], typer.Option(
        "--judgements", help="The judges' *.tsv files (default: IN/judgements); data/judged/d2p/judgements holds the "
                             "project's judgements of the pool written with --depth 10 --batch-pairs 700.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the dev / test split (by demand).")] = 0,
    dev_share: Annotated[float, typer.Option("--dev-share", min=0.0, max=1.0, help="Share of demands in dev.")] = 0.5,
) -> None:
    """Check that every pooled pair is judged once, then write qrels/{all,dev,test}.tsv, d2p-dev/ and d2p-test/ and
    report.json (grade counts, pool sizes, Cohen's kappa on the double-judged pairs, judged@10 of the runs)."""
    from matcher.lab.judgements import build as build_qrels

    try:
        report = build_qrels(folder, judgements=judgements, seed=seed, dev_share=dev_share)
    except (MatcherError, ValueError) as exc:
        _fail(exc)
    table = Table(title=f"judged pool {folder.name}: {report['pairs']:,} pairs, {report['demands']} demands")
    table.add_column("figure")
    table.add_column("value")
    rows = [("grades 0 / 1 / 2", " / ".join(str(report["grades"][g]) for g in ("0", "1", "2"))),
            *((f"demands with {k}", str(v)) for k, v in report["answerable"].items()),
            *((f"pairs from {k} (judged@10)", f"{v} ({report['judged@10'][k]:.3f})") for k, v in report["pool_per_system"].items()),
            ("double-judged pairs", str(report["double"]["pairs"])),
            ("kappa, 3 grades", str(report["double"]["kappa_3_grades"])),
            ("kappa, related or better", str(report["double"]["kappa_related"])),
            ("dev / test demands", f"{report['split']['dev_demands']} / {report['split']['test_demands']}"),
            ("judges", ", ".join(f"{k} ({v})" for k, v in report["judges"].items()))]
    for row in rows:
        table.add_row(*row)
    out.print(table)
    err.print(f"qrels in {folder / 'qrels'}; evaluate with: matcher lab evaluate {folder / 'd2p-test'} --query-side text")
    sys.stdout.flush()
    print(json.dumps(report, ensure_ascii=False))


@app.command()
def coverage(
    runs: Annotated[list[Path], typer.Argument(help="TREC run files (e.g. from `matcher lab evaluate --runs DIR`).")],
    folder: Annotated[Path, typer.Option("--in", help="The built judged folder (qrels/all.tsv).")] = DEFAULT_OUT,
    split: Annotated[str, typer.Option("--split", help="all, dev or test.")] = "all",
    k: Annotated[int, typer.Option("--k", min=1, help="The depth.")] = 10,
) -> None:
    """judged@k of each run: the share of its top k that is judged (report it beside every score; judge the rest)."""
    from matcher.lab.evaluate import read_run
    from matcher.lab.judgements import judged_at, read_qrels

    try:
        qrels = read_qrels(folder / "qrels" / f"{split}.tsv")
        shares = {str(path): judged_at(read_run(path), qrels, k) for path in runs}
    except (MatcherError, ValueError) as exc:
        _fail(exc)
    table = Table(title=f"judged@{k} on {folder.name} ({split}, {len(qrels)} demands)")
    table.add_column("run")
    table.add_column(f"judged@{k}")
    for name, share in shares.items():
        table.add_row(name, f"{share:.4f}")
    out.print(table)
    sys.stdout.flush()
    print(json.dumps({name: round(v, 4) for name, v in shares.items()}))


@app.command()
def fuse(
    folder: Annotated[Path, typer.Option("--in", help="The built judged folder (pool.tsv, runs/, qrels/).")] = DEFAULT_OUT,
    out_run: Annotated[Optional[Path], typer.Option("--out", help="The test run to write (default IN/runs/learned-fusion.trec).")] = None,
    systems: Annotated[list[str], typer.Option("--system", help="A pooled run to learn from (repeatable).")] = [  # noqa: B006
        "bm25", "dense", "default-text", "default-record"],
) -> None:
    """Learn to re-rank the pooled candidates from the pooled systems' ranks and scores on the dev split (model chosen
    by out-of-fold pair AUC), write the test split's run (compare it with `matcher lab compare FOLDER/d2p-test
    FOLDER/runs/default-text.trec RUN`); the last stdout line is one JSON object."""
    from matcher.lab.pool_fusion import learned_fusion

    out_run = out_run or folder / "runs" / "learned-fusion.trec"
    try:
        report = learned_fusion(folder, out_run, systems)
    except (MatcherError, ValueError, OSError) as exc:
        _fail(exc)
    table = Table(title=f"learned fusion of {', '.join(systems)}: chosen {report['chosen']}; test pair AUC "
                        f"{report['test_pair_auc']}, verdict AUC {report['test_verdict_auc']} "
                        f"({report['test_related_pairs']} related of {report['test_pairs']} pooled test pairs)")
    table.add_column("model")
    table.add_column("dev pair AUC (out of fold)")
    for name, auc in report["dev_pair_auc_oof"].items():
        table.add_row(name, str(auc))
    out.print(table)
    err.print(f"test run written to {out_run}")
    sys.stdout.flush()
    print(json.dumps(report, ensure_ascii=False))


@app.command()
def calibrate(
    folder: Annotated[Path, typer.Option("--in", help="The built judged folder (qrels/, demands.jsonl).")] = DEFAULT_OUT,
    model_out: Annotated[Path, typer.Option("--out", help="The confidence model to write (JSON).")] = (
        PROJECT_ROOT / "matcher" / "rank" / "resources" / "confidence-d2p.json"),
    pairs_file: Annotated[Optional[Path], typer.Option(
        "--pairs", help="The pairs' features (parquet): read when it exists (no ranking), else written there; "
                        "default: IN/confidence-pairs.parquet, always recomputed.")] = None,
    min_retention: Annotated[float, typer.Option("--min-retention", min=0.0, max=1.0,
                                                 help="Share of dev's related pairs the threshold keeps.")] = 0.8,
    shared: Annotated[Optional[Path], typer.Option("--shared-dir", help="The shared folder (as for pool).")] = None,
    config: ConfigOpt = None,
    encoder: EncoderOpt = None,
) -> None:
    """Rank the judged demands with the engine (as pasted text and as stored records), fit the match confidence on
    the dev split's top-10 pairs, measure it on test (ROC AUC, Brier, reliability, verdict AUC, precision /
    retention at the threshold) and write the model."""
    import datetime

    import pandas as pd

    from matcher.lab.confidence import calibrate as fit, collect_pairs
    from matcher.lab.judgements import read_qrels

    try:
        cfg = load_config(config, encoder=encoder)
        qrels = {s: read_qrels(folder / "qrels" / f"{s}.tsv") for s in ("all", "dev", "test")}
        if pairs_file is not None and pairs_file.exists():
            pairs = pd.read_parquet(pairs_file)
        else:
            wanted = {json.loads(line)["_id"] for line in (folder / "demands.jsonl").read_text(encoding="utf-8").splitlines() if line}
            patents = _source("bdci_patents", shared)
            demands = _source("zhibei_demands", shared)
            demands = demands[demands["id"].astype(str).isin(wanted)].reset_index(drop=True)
            matcher = Matcher(cfg)
            matcher.index(Kind.PATENT, patents, show_progress=True)
            matcher.index(Kind.ENTERPRISE, demands, show_progress=True)
            grades = {(q, d): int(g) for q, docs in qrels["all"].items() for d, g in docs.items()}
            pairs = collect_pairs(matcher, demands, grades)
            pairs.to_parquet(pairs_file or folder / "confidence-pairs.parquet")
            del matcher
            gc.collect()
        card = {"data": f"{folder.name}: judged demand -> patent top-10 pairs of the default engine, fitted on dev "
                        f"({len(qrels['dev'])} demands), measured on test ({len(qrels['test'])})",
                "date": datetime.date.today().isoformat(), "encoder": cfg.encoder,
                "unjudged_pairs": int((pairs["grade"] < 0).sum())}
        model, report = fit(pairs, set(qrels["dev"]), set(qrels["test"]), card=card, min_retention=min_retention)
        model.save(model_out)
    except (MatcherError, ValueError, OSError) as exc:
        _fail(exc)
    for direction, r in report.items():
        t = r["test"]
        table = Table(title=f"{direction} on test ({r['method']}): pair AUC {t['pair_auc']} (fused score "
                            f"{t['pair_auc_fused_score']}), Brier {t['brier']} (base rate {t['brier_base_rate']}), "
                            f"verdict AUC {t['verdict_auc']} (top-1 score {t['verdict_auc_top1_score']}); at "
                            f"{t['threshold']}: precision {t['precision']}, retention {t['retention']}, shown {t['shown']}")
        for col in ("confidence band", "pairs", "mean confidence", "share related"):
            table.add_column(col)
        for b in t["reliability"]:
            table.add_row(b["band"], str(b["pairs"]), str(b["mean_confidence"]), str(b["share_related"]))
        out.print(table)
    err.print(f"model written to {model_out}")
    sys.stdout.flush()
    print(json.dumps({d: {"method": r["method"], "test": {k: v for k, v in r["test"].items() if k != "reliability"}}
                      for d, r in report.items()}, ensure_ascii=False))
