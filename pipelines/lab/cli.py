"""The lab's command group, `matcher lab ...`: evaluate, compare, compare-sets, held-out, train, train-activity,
tune-fusion and the benchmark scripts (research on the shared data; the product never imports it)."""

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
from matcher.ingest import SOURCES, load_records, shared_dir
from matcher.schema import Kind
from pipelines.cli import ConfigOpt, EncoderOpt

app = typer.Typer(help="Research tooling: BEIR evaluation, significance tests, held-out sets, training and "
                       "cross-validation on the shared data, fusion tuning, benchmarks.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
out = Console()
err = Console(stderr=True)

DEFAULT_HELD_OUT = PROJECT_ROOT / "artifacts" / "benchmarks"


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _enterprise_attributes(spec: str):
    """(records, where they came from) of `evaluate --enterprise-attributes`; (None, "") for 'none', or for 'auto'
    without the registry."""
    from matcher.lab.evaluate import registry_attributes

    if spec.lower() == "none":
        return None, ""
    if spec.lower() == "auto":
        frame = registry_attributes(shared_dir())
        return frame, str(shared_dir() / SOURCES["registry_companies"].default_path) if frame is not None else ""
    return load_records(Path(spec), Kind.ENTERPRISE).frame, spec


def _has_enterprises(folder: Path, query_side: str, corpus_side: str | None) -> bool:
    """Whether a benchmark evaluated with these sides holds enterprise records."""
    from matcher.lab.evaluate import sides

    named = {"enterprise", "patent", "text"}
    try:
        auto = [k.value if k is not None else "text" for k in sides(folder.name)]
    except MatcherError:
        auto = ["text", "text"]
    kinds = {query_side if query_side in named else auto[0], corpus_side or auto[1]}
    return Kind.ENTERPRISE.value in kinds


@app.command()
def evaluate(
    benchmarks: Annotated[list[Path], typer.Argument(help="BEIR folders (corpus.jsonl, queries.jsonl, qrels/test.tsv).")],
    config: ConfigOpt = None,
    encoder: EncoderOpt = None,
    query_side: Annotated[str, typer.Option("--query-side", help="auto (from the folder name), enterprise, patent or text.")] = "auto",
    corpus_side: Annotated[Optional[str], typer.Option("--corpus-side", help="patent or enterprise (default: from the folder name).")] = None,
    query_records: Annotated[str, typer.Option(
        "--query-records", help="A BEIR corpus.jsonl of the query side's records, indexed too; queries with an id "
                                "there are asked as stored records, as the product asks them (the reciprocal signal "
                                "needs it). 'auto': the corpus of the mirror benchmark beside the folder when there "
                                "is one (c2p-dev <-> p2c-dev); 'none': ask every query as free text.")] = "auto",
    runs: Annotated[Optional[Path], typer.Option(
        "--runs", help="Also write each benchmark's ranking to DIR/<benchmark>.trec (TREC run format), for "
                       "`matcher lab compare`.")] = None,
    enterprise_attributes: Annotated[str, typer.Option(
        "--enterprise-attributes", help="A table of enterprise records (any file `matcher build` reads) whose "
                                        "optional columns, e.g. the registered capital the activity prior reads, "
                                        "fill the benchmark's company profiles, matched by name. 'auto': "
                                        "../shared/data/registry/companies_20k.csv when it is there (the registry "
                                        "the shared benchmarks' profiles come from); 'none': the BEIR text only.")] = "auto",
) -> None:
    """Run the full matcher on BEIR benchmarks; the last stdout line is one JSON object of metrics."""
    from matcher.lab.evaluate import mirror_records, run_benchmark

    scores: dict[str, dict[str, float]] = {}
    try:
        cfg = load_config(config, encoder=encoder)
        attributes, attributes_from = _enterprise_attributes(enterprise_attributes)
        for folder in benchmarks:
            t0 = time.perf_counter()
            qs = None if query_side == "text" else query_side
            auto = mirror_records(folder) if qs is not None else None
            records = {"auto": auto, "none": None}.get(query_records.lower(), Path(query_records))
            run_file = runs / f"{folder.name}.trec" if runs is not None else None
            scores[folder.name] = run_benchmark(folder, Matcher(cfg), query_side=qs, corpus_side=corpus_side,
                                                 query_records=records, show_progress=True, run_file=run_file,
                                                 enterprise_attributes=attributes)
            asked = f", queries asked as the stored records of {records}" if records is not None else ""
            written = f", ranking written to {run_file}" if run_file is not None else ""
            filled = (f", company profiles' registered capital and region from the {len(attributes):,} records of "
                      f"{attributes_from}" if attributes is not None and _has_enterprises(folder, query_side, corpus_side) else "")
            err.print(f"{folder.name}: {time.perf_counter() - t0:.1f} s{asked}{written}{filled}")
            # the first import of torch (on the first engine's first encode) keeps the importing stack alive through
            # a frame <-> local cycle in torch.fx's `wrap`, and with it this engine and its indexes: free them now
            gc.collect()
    except (MatcherError, ValueError) as exc:
        _fail(exc)
    table = Table(title="benchmark results")
    for col in ("benchmark", "nDCG@10", "Recall@10", "Recall@100", "MRR@10"):
        table.add_column(col)
    for name, s in scores.items():
        table.add_row(name, *(f"{s[m]:.4f}" for m in ("ndcg@10", "recall@10", "recall@100", "mrr@10")))
    out.print(table)
    sys.stdout.flush()
    print(json.dumps({name: {m: round(v, 4) for m, v in s.items()} for name, s in scores.items()}))


ByJudgedOpt = Annotated[bool, typer.Option(
    "--by-judged", help="Also compare within the groups of queries with 1, 2-3, 4-10 and over 10 documents judged "
                        "relevant; the last line then holds every group under its name ('all' for the whole set).")]
ResamplesOpt = Annotated[int, typer.Option(
    "--resamples", min=100, help="Bootstrap / randomisation resamples (the smallest p-value the test can show is "
                                 "about 1 / resamples).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (results are reproducible).")]


def _groups(qrels: dict, by_judged: bool) -> dict[str, dict]:
    """'all' and, with --by-judged, the groups of `matcher.lab.significance.by_judged_count`."""
    from matcher.lab.significance import by_judged_count

    return {"all": qrels, **(by_judged_count(qrels) if by_judged else {})}


def _print_comparisons(results: dict[str, list], by_judged: bool, title, means: tuple[str, str],
                       extra: tuple[str, ...] = (), cells=lambda r: ()) -> None:
    """One table per query group (titled title(rows, ", queries with G judged relevant" or "")): both means (headed
    `means`), the difference, its interval and p-value, then the `extra` columns of `cells(row)`; then the JSON
    line: the whole set's rows, or every group's with --by-judged."""
    for group, rows in results.items():
        table = Table(title=title(rows, "" if group == "all" else f", queries with {group} judged relevant"))
        for col in ("metric", *means, "difference", "95 % CI", "p (randomisation)", *extra):
            table.add_column(col)
        for r in rows:
            table.add_row(r.metric, f"{r.base:.4f}", f"{r.new:.4f}", f"{r.delta:+.4f}", f"[{r.low:+.4f}, {r.high:+.4f}]",
                          f"{r.p_value:.4f}", *cells(r))
        out.print(table)
    sys.stdout.flush()
    as_json = {group: {r.metric: r.as_dict() for r in rows} for group, rows in results.items()}
    print(json.dumps(as_json if by_judged else as_json["all"]))


@app.command()
def compare(
    triples: Annotated[list[Path], typer.Argument(
        help="BENCH BASE NEW: the BEIR folder both runs rank (its qrels/test.tsv judges them), the reference ranking (a "
             "TREC run file of `matcher lab evaluate --runs`) and the ranking under test. Repeat the three to pool several "
             "benchmarks' queries into one test (e.g. c2p-dev and artifacts/benchmarks/c2p-other).",
        metavar="BENCH BASE NEW")],
    resamples: ResamplesOpt = 10_000,
    seed: SeedOpt = 0,
    by_judged: ByJudgedOpt = False,
) -> None:
    """Is NEW better than BASE, beyond the luck of the queries? Paired bootstrap CI and randomisation test per metric;
    the last stdout line is one JSON object."""
    from matcher.lab.evaluate import load_beir, read_run
    from matcher.lab.significance import compare_runs, pool_queries

    try:
        if len(triples) % 3:
            raise MatcherError(f"{len(triples)} paths given: compare takes BENCH BASE NEW, repeated to pool benchmarks "
                               "(e.g. c2p-dev runs/a/c2p-dev.trec runs/b/c2p-dev.trec)")
        parts = [(load_beir(b), read_run(x), read_run(y)) for b, x, y in zip(triples[::3], triples[1::3], triples[2::3])]
        base_run = pool_queries([(bench.name, run) for bench, run, _ in parts])
        new_run = pool_queries([(bench.name, run) for bench, _, run in parts])
        qrels = pool_queries([(bench.name, bench.qrels) for bench, _, _ in parts])
        groups = _groups(qrels, by_judged)
        results = {g: compare_runs(base_run, new_run, q, resamples=resamples, seed=seed) for g, q in groups.items()}
    except MatcherError as exc:
        _fail(exc)
    names = " + ".join(bench.name for bench, *_ in parts)
    base_files, new_files = (", ".join(str(p) for p in triples[i::3]) for i in (1, 2))
    _print_comparisons(results, by_judged, lambda rows, which: f"{names}: {new_files} against {base_files} "
                                                               f"({rows[0].queries} queries{which})",
                       ("base", "new"), ("wins / ties / losses",), lambda r: (f"{r.wins} / {r.ties} / {r.losses}",))


@app.command("compare-sets")
def compare_sets(
    base_benchmark: Annotated[Path, typer.Argument(help="The reference BEIR folder (e.g. c2p-dev).")],
    base: Annotated[Path, typer.Argument(help="Its ranking: a TREC run file (`matcher lab evaluate --runs`).")],
    new_benchmark: Annotated[Path, typer.Argument(help="The other BEIR folder (e.g. artifacts/benchmarks/c2p-other).")],
    new: Annotated[Path, typer.Argument(help="Its ranking, same format.")],
    resamples: ResamplesOpt = 10_000,
    seed: SeedOpt = 0,
    by_judged: ByJudgedOpt = False,
) -> None:
    """Do two query sets score differently (one configuration on dev and on held-out queries)? Unpaired bootstrap CI
    and randomisation test per metric; the last stdout line is one JSON object."""
    from matcher.lab.evaluate import load_beir, read_run
    from matcher.lab.significance import compare_sets as compare

    try:
        base_run, new_run = read_run(base), read_run(new)
        base_groups = _groups(load_beir(base_benchmark).qrels, by_judged)
        new_groups = _groups(load_beir(new_benchmark).qrels, by_judged)
        results = {g: compare(base_run, base_groups[g], new_run, new_groups[g], resamples=resamples, seed=seed)
                   for g in base_groups if g in new_groups}
    except MatcherError as exc:
        _fail(exc)
    _print_comparisons(results, by_judged, lambda rows, which: f"{new_benchmark.name} ({rows[0].new_queries} queries) "
                                                               f"against {base_benchmark.name} ({rows[0].base_queries}){which}",
                       (base_benchmark.name, new_benchmark.name))


@app.command("held-out")
def held_out(
    out_dir: Annotated[Path, typer.Option("--out", help="Where the BEIR folders go (each replaced atomically).")] = DEFAULT_HELD_OUT,
    shared: Annotated[Optional[Path], typer.Option("--shared-dir", help="Folder with data/ and benchmarks/ (default: ../shared).")] = None,
) -> None:
    """Build the held-out benchmark sets (p2c-other, c2p-other) from the shared data: the dev sets' questions asked
    of the registered filers that nothing was chosen or trained on. For reporting, never for choosing."""
    from matcher.lab.evaluate import load_beir
    from matcher.lab.held_out import build_held_out

    try:
        folders = build_held_out(shared or shared_dir(), out_dir)
    except MatcherError as exc:
        _fail(exc)
    table = Table(title=f"held-out benchmarks in {out_dir}")
    for col in ("benchmark", "queries", "judged pairs", "corpus"):
        table.add_column(col)
    for name, folder in folders.items():
        bench = load_beir(folder)
        table.add_row(name, str(len(bench.queries)), str(sum(len(v) for v in bench.qrels.values())), str(len(bench.corpus)))
    out.print(table)
    err.print(f"evaluate them with: matcher lab evaluate {' '.join(str(f) for f in folders.values())} [--config F] [--runs DIR]")


def _register_scripts() -> None:
    """The lab's typer scripts as commands of the group."""
    from pipelines.lab.bench_exposure import main as bench_exposure
    from pipelines.lab.bench_portfolio import main as bench_portfolio
    from pipelines.lab.train_activity import main as train_activity
    from pipelines.lab.train_default import main as train_default
    from pipelines.lab.train_encoder import main as train
    from pipelines.lab.tune_fusion import main as tune_fusion

    app.command("train", help="Train the static encoder on the shared data (or --from-index DIR), with --evaluate "
                              "(dev benchmarks, fusion re-tuned), --holdout-fold and --cross-validate over dev-company "
                              "folds (see pipelines/lab/train_encoder.py).")(train)
    app.command("train-activity", help="Train the patent-activity model on the shared data (or --from-index DIR), "
                                       "measured on the held-out companies; --cross-validate scores each activity "
                                       "weight on p2c-dev by fold (see pipelines/lab/train_activity.py).")(train_activity)
    app.command("train-default", help="Train the default engine's models (models/patent-static, models/activity) from "
                                      "../shared, README's command 1; without it nothing is trained and USE-m3 serves "
                                      "(see pipelines/lab/train_default.py).")(train_default)
    app.command("tune-fusion", help="Grid-search the fusion settings on BEIR benchmarks, with a cross-validated "
                                    "estimate of the selection (see pipelines/lab/tune_fusion.py).")(tune_fusion)
    app.command("bench-portfolio", help="Measure the portfolio signal with company ownership held out by fold "
                                        "(see pipelines/lab/bench_portfolio.py).")(bench_portfolio)
    app.command("bench-exposure", help="How concentrated the nightly lists are and what an exposure cap changes "
                                       "(see pipelines/lab/bench_exposure.py).")(bench_exposure)
    from pipelines.lab.judged import app as judged

    app.add_typer(judged, name="judged")


_register_scripts()

if __name__ == "__main__":
    app()
