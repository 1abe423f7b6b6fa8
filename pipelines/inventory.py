"""`matcher inventory`: the indexed stock (盘点入库) per applicant, sector and tier, with alive, pushed and outcome
counts, the patents that may not be pushed and the duplicates merged. Registered on the `matcher` app by
pipelines.main.

Example:
    matcher inventory --index artifacts/index --tracking-db sqlite:///artifacts/tracking.sqlite --json
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
HEADERS = {"patents": "专利", "alive": "有效", "not_pushable": "不可推送", "pushed": "已推送", "success": "许可/转让",
           "rejected": "被拒"}


def _table(title: str, frame, keys: list[str], limit: int | None = None) -> Table:
    from matcher.grading.inventory import COUNT_COLUMNS

    table = Table(title=title)
    for col in [*keys, *COUNT_COLUMNS]:
        table.add_column(HEADERS.get(col, col))
    for row in frame.head(limit).to_dict("records") if limit else frame.to_dict("records"):
        table.add_row(*[escape(str(row[k])) for k in keys], *[str(row[c]) for c in COUNT_COLUMNS])
    return table


def inventory(
    index: Annotated[Path, typer.Option("--index", "--index-dir", help="The index whose patents are counted.")] = Path("artifacts/index"),
    tracking_db: Annotated[Optional[str], typer.Option("--tracking-db", help="Tracking database URL: how many were pushed and with what outcome.")] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Applicants shown in the table.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Also print the counts as one JSON object, the last line of stdout.")] = False,
) -> None:
    """Count the indexed stock per applicant, sector (门类) and tier; flag expired / withdrawn / invalid patents and
    merge duplicates. Uses the grades stored by `matcher grade --index` when present, else grades without models."""
    from matcher.errors import MatcherError, NotBuiltError
    from matcher.grading import grade_patents, read_grades
    from matcher.grading.inventory import take_inventory
    from matcher.grading.stock import read_stock

    try:
        patents, _ = read_stock(index)
        try:
            grades = read_grades(index)
            if set(grades["id"]) != set(patents["id"]):
                raise NotBuiltError("stale")
        except NotBuiltError:
            err.print(f"note: no up-to-date grades in {index} (`matcher grade --index {index}` stores them): grading "
                      "from the input columns, IPC and rules only", highlight=False, soft_wrap=True)
            grades = grade_patents(patents)
        outcomes = []
        if tracking_db:
            from matcher.tracking import TrackingStore

            outcomes = TrackingStore(tracking_db).frame().to_dict("records")
        stock = take_inventory(patents, grades, outcomes)
    except MatcherError as exc:
        err.print(f"[bold red]error:[/] {escape(str(getattr(exc, 'english', exc)))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    t = stock.totals
    out.print(f"{t['records']:,} records, {t['duplicates']:,} duplicates merged -> {t['patents']:,} patents: "
              f"{t['alive']:,} alive, {t['not_pushable']:,} not pushable, {t['pushed']:,} pushed, "
              f"{t['success']:,} licensed / transferred")
    out.print(_table(f"by applicant (top {top})", stock.by_applicant, ["applicant", "applicant_type"], top))
    out.print(_table("by sector (GB/T 4754 门类)", stock.by_sector, ["section"]))
    out.print(_table("by tier", stock.by_tier, ["tier"]))
    if len(stock.duplicates):
        dup = Table(title="duplicates merged (the first record is kept)")
        for col in ("id", "duplicate of", "rule"):
            dup.add_column(col)
        for row in stock.duplicates.to_dict("records"):
            dup.add_row(escape(row["id"]), escape(row["duplicate_of"]), row["rule"])
        out.print(dup)
    if len(stock.not_pushable):
        flagged = Table(title="not pushable (expired, withdrawn, invalid)")
        for col in ("id", "title", "reason"):
            flagged.add_column(col)
        for row in stock.not_pushable.head(top).to_dict("records"):
            flagged.add_row(escape(row["id"]), escape(str(row["title"])[:40]), escape(row["reason"]))
        out.print(flagged)
    if as_json:
        out.file.flush()
        print(json.dumps(stock.summary(), ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add `inventory` to the `matcher` app."""
    app.command("inventory")(inventory)
