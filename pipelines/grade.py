"""`matcher grade`: train, evaluate and apply the grading models (技术成熟度, GB/T 4754 sectors) and write the grades
table of an indexed stock (matcher.grading). Registered on the `matcher` app by pipelines.main.

Examples:
    matcher grade --evaluate                 # held-out accuracy / macro-F1 beside the majority baseline
    matcher grade                            # train on the labelled offers and demands, save to models/grading
    matcher grade --index artifacts/index    # grade the indexed patents into artifacts/index/grades.parquet
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

out = Console()
err = Console(stderr=True)

OffersOpt = Annotated[Optional[Path], typer.Option("--offers", help="Labelled offers (default ../shared/data/zhibei/offers.jsonl).")]
DemandsOpt = Annotated[Optional[Path], typer.Option("--demands", help="Labelled demands (default ../shared/data/zhibei/demands.jsonl); --no-demands to leave them out.")]


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _examples(offers: Path | None, demands: Path | None, use_demands: bool):
    from matcher.grading.labelled import labelled_demands, labelled_offers

    offer_rows = labelled_offers(offers)
    demand_rows = labelled_demands(demands) if use_demands else None
    return offer_rows, demand_rows


def _evaluate(offers: Path | None, demands: Path | None, use_demands: bool, seed: int) -> None:
    from matcher.grading.evaluate import evaluate

    offer_rows, demand_rows = _examples(offers, demands, use_demands)
    err.print(f"evaluating on {len(offer_rows):,} offers and {0 if demand_rows is None else len(demand_rows):,} demands "
              f"(stratified 80/20 split, seed {seed}) ...")
    scores = evaluate(offer_rows, demand_rows, seed=seed)
    table = Table(title="grading models on the held-out split")
    for col in ("task", "train", "test", "acc.", "macro-F1", "maj. acc.", "maj. F1", "majority label"):
        table.add_column(col, overflow="fold")
    for s in scores:
        table.add_row(s.task, str(s.train), str(s.test), f"{s.accuracy:.3f}", f"{s.macro_f1:.3f}",
                      f"{s.majority_accuracy:.3f}", f"{s.majority_macro_f1:.3f}", escape(s.majority_label))
    out.print(table)
    calib = Table(title="calibration of the top label on the held-out split (lower is better)")
    for col in ("task", "ECE raw", "ECE calibrated", "Brier raw", "Brier calibrated"):
        calib.add_column(col, overflow="fold")
    for s in scores:
        if s.calibration:
            raw, cal = s.calibration["raw"], s.calibration["calibrated"]
            calib.add_row(s.task, f"{raw['ece']:.3f}", f"{cal['ece']:.3f}", f"{raw['brier']:.3f}", f"{cal['brier']:.3f}")
    out.print(calib)
    out.file.flush()
    print(json.dumps({s.task: s.summary() for s in scores}, ensure_ascii=False))


def _train(offers: Path | None, demands: Path | None, use_demands: bool, models_dir: Path, seed: int,
           divisions: bool = True):
    import pandas as pd

    from matcher.grading.models import train_models

    offer_rows, demand_rows = _examples(offers, demands, use_demands)
    examples = pd.concat([offer_rows, demand_rows], ignore_index=True) if demand_rows is not None else offer_rows
    err.print(f"training on {len(offer_rows):,} offers and {0 if demand_rows is None else len(demand_rows):,} demands ...")
    models = train_models(examples, seed=seed, divisions=divisions)
    models.save(models_dir)
    return models


def _grade_index(index_dir: Path, models_dir: Path | None, offers: Path | None, demands: Path | None, use_demands: bool,
                 seed: int, tracking_db: str | None, chains: Path | None, lock_timeout: float | None) -> None:
    from matcher.errors import MatcherError
    from matcher.grading import DEFAULT_MODELS, GradingModels, grade_patents, verdicts_by_patent, write_grades
    from matcher.grading.stock import read_stock
    from matcher.sectors import load_chains

    patents, enterprises = read_stock(index_dir)
    try:
        models = GradingModels.load(models_dir)
    except MatcherError:
        models_dir = models_dir or DEFAULT_MODELS
        try:
            models = _train(offers, demands, use_demands, models_dir, seed)
            err.print(f"note: no grading models at {models_dir}: trained them from the labelled data and saved them there")
        except MatcherError as exc:
            models = None
            err.print(f"note: no grading models and none can be trained ({exc}): grading from the input columns, "
                      "IPC and rules only", highlight=False, soft_wrap=True)
    outcomes = []
    if tracking_db:
        from matcher.tracking import TrackingStore

        outcomes = TrackingStore(tracking_db).frame().to_dict("records")
    grades = grade_patents(patents, models, demands=enterprises, verdicts=verdicts_by_patent(outcomes),
                           chains=load_chains(chains) if chains else None)
    path = write_grades(index_dir, grades, lock_timeout=lock_timeout)
    table = Table(title=f"grades of {len(grades):,} patents")
    for col in ("tier", "patents", "mean prospect", "maturity from input", "maturity from model"):
        table.add_column(col)
    for name, group in grades.groupby("tier"):
        table.add_row(name, str(len(group)), f"{group['prospect'].mean():.0f}",
                      str(int(group["maturity_source"].str.startswith("自评").sum())),
                      str(int(group["maturity_source"].str.startswith("模型").sum())))
    out.print(table)
    out.print(f"grades written to {path}")


def grade(
    evaluate: Annotated[bool, typer.Option("--evaluate", help="Train on 80 % of the labelled offers and demands, score the other 20 %; the last stdout line is one JSON object.")] = False,
    index: Annotated[Optional[Path], typer.Option("--index", "--index-dir", help="Grade the patents of this index and store grades.parquet in it.")] = None,
    offers: OffersOpt = None,
    demands: DemandsOpt = None,
    use_demands: Annotated[bool, typer.Option("--demands-labels/--no-demands", help="Learn 门类 from the demands too.")] = True,
    models_dir: Annotated[Optional[Path], typer.Option("--models", help="Model folder (default models/grading; with --index, the shipped models when that is empty).")] = None,
    divisions: Annotated[bool, typer.Option("--divisions/--no-divisions", help="Train the 大类 model too (the shipped models leave it out).")] = True,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split and the calibration folds.")] = 42,
    tracking_db: Annotated[Optional[str], typer.Option("--tracking-db", help="Tracking database URL whose outcomes are enterprises' verdicts (with --index).")] = None,
    chains: Annotated[Optional[Path], typer.Option("--chains", help="Industry chains TOML (e.g. config/chains.example.toml), with --index.")] = None,
    lock_timeout: Annotated[Optional[float], typer.Option("--lock-timeout", min=0, help="Seconds to wait for another writer of the index.")] = None,
) -> None:
    """Grade patents (技术成熟度, sectors, 产业化前景, tier A-E): --evaluate, train (default) or --index DIR."""
    from matcher.errors import MatcherError
    from matcher.grading.models import DEFAULT_MODELS

    try:
        if evaluate:
            _evaluate(offers, demands, use_demands, seed)
        elif index is not None:
            _grade_index(index, models_dir, offers, demands, use_demands, seed, tracking_db, chains, lock_timeout)
        else:
            models_dir = models_dir or DEFAULT_MODELS
            models = _train(offers, demands, use_demands, models_dir, seed, divisions)
            out.print(f"models saved to {models_dir} (maturity: {len(models.maturity.classes)} levels, "
                      f"门类: {len(models.sectors.section.classes)})")
    except MatcherError as exc:
        _fail(exc)


def register(app: typer.Typer) -> None:
    """Add `grade` to the `matcher` app."""
    app.command("grade")(grade)
