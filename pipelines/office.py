"""The office's commands: `matcher catalogue` (demand catalogue), `matcher campaign` (open-licence campaign), `matcher
digest` (an enterprise's weekly digest) and `matcher outcomes simulate | fit | apply` (learning from outcomes).
Registered on the `matcher` app by pipelines.main (`register`); the logic lives in matcher.office."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from matcher.config import PROJECT_ROOT
from matcher.errors import MatcherError
from matcher.threads import one_thread_per_query
from pipelines.cli import parse_filters

out = Console()
err = Console(stderr=True)

DEFAULT_INDEX = PROJECT_ROOT / "artifacts" / "index"
DEFAULT_OUT = PROJECT_ROOT / "exports" / "office"
DEFAULT_MODEL = PROJECT_ROOT / "artifacts" / "office" / "outcome_model.json"
IndexDir = Annotated[Path, typer.Option("--index-dir", help="Where the index lives.")]
OutDir = Annotated[Path, typer.Option("--out", help="Folder the XLSX (with a cover sheet) and CSV files go to.")]
DbOpt = Annotated[Optional[str], typer.Option(
    "--database-url", help="Tracking database (default: env DATABASE_URL, else artifacts/tracking.sqlite).")]
FIT_LEVELS = {"契合": 2, "可协商": 1, "good": 2, "talk": 1}

outcomes_app = typer.Typer(help="Learning from outcomes: simulate a labelled outcome log, fit a ranking on it, and show "
                                "how the outcomes change the next night's enterprise -> patent lists.",
                           no_args_is_help=True)


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {escape(str(getattr(exc, 'english', exc)))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _load(index_dir: Path):
    from matcher.engine import Matcher

    return Matcher.load(index_dir)


def _store(url: str | None):
    from matcher.tracking import TrackingStore

    return TrackingStore(url)


def _safe_stem(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in str(text))[:80] or "x"


def catalogue(
    index_dir: IndexDir = DEFAULT_INDEX,
    out_dir: OutDir = DEFAULT_OUT,
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="Best patents listed per demand.")] = 5,
    demand_ids: Annotated[Optional[str], typer.Option(
        "--demand-ids", help="Regular expression on enterprise ids telling demands (default: records without registered "
                             "capital whose name is not a company's).")] = None,
    patent_filter: Annotated[Optional[list[str]], typer.Option("--patent-filter", help="column=value on ranked patents.")] = None,
    no_model: Annotated[bool, typer.Option("--no-model", help="Decide coverage by the score distribution even when a "
                                                              "confidence model fits the index.")] = False,
) -> None:
    """The demand catalogue (专利需求信息目录): every demand by sector, its best patents and a coverage verdict
    (充分满足 / 部分满足 / 无合适专利); writes demand_catalogue.xlsx (cover, per-sector summary, catalogue, best patents,
    unanswered demands for universities) and demand_catalogue.csv."""
    from matcher.office.catalogue import build_catalogue, catalogue_cover, catalogue_sheets
    from matcher.office.workbook import officer_table, write_outputs

    try:
        matcher = _load(index_dir)
        cat = build_catalogue(matcher, k=k, id_pattern=demand_ids, patent_filters=parse_filters(patent_filter, "--patent-filter"),
                              use_model=not no_model)
        sheets = catalogue_sheets(cat)
        paths = write_outputs(out_dir, "demand_catalogue", "专利需求信息目录", catalogue_cover(cat, str(index_dir)),
                              sheets, sheets["需求目录"])
    except (MatcherError, ValueError, OSError) as exc:
        _fail(exc)
    table = Table(title=f"demand catalogue: {len(cat.demands):,} demands")
    summary = cat.summary()
    for col in summary.columns:
        table.add_column(str(col))
    for row in summary.itertuples(index=False):
        table.add_row(*[escape(str(v)) for v in row])
    out.print(table)
    out.print(f"coverage by {cat.method}")
    out.print(f"written: {', '.join(str(p) for p in paths)}")


def campaign(
    patent: Annotated[str, typer.Option("--patent", help="The patent id the campaign offers.")],
    index_dir: IndexDir = DEFAULT_INDEX,
    out_dir: OutDir = DEFAULT_OUT,
    n: Annotated[int, typer.Option("--n", min=1, help="Enterprises in the campaign.")] = 20,
    pool: Annotated[int, typer.Option("--pool", min=1, help="Candidates ranked before spreading.")] = 200,
    lam: Annotated[float, typer.Option("--lambda", min=0.0, max=1.0, help="MMR trade-off: 1 = by score only, lower = "
                                                                          "more spread over regions and sectors.")] = 0.7,
    skip_days: Annotated[int, typer.Option("--skip-days", min=0, help="Leave out enterprises pushed within this many days.")] = 30,
    weekly_cap: Annotated[int, typer.Option("--weekly-cap", min=0, help="Leave out enterprises with this many pushes in the last 7 days (0: no cap).")] = 3,
    enterprise_filter: Annotated[Optional[list[str]], typer.Option("--enterprise-filter", help="column=value on ranked enterprises.")] = None,
    database_url: DbOpt = None,
    add: Annotated[bool, typer.Option("--add", help="Put the campaign's pairs on the shortlist as 待推送.")] = False,
    user: Annotated[str, typer.Option("--user", help="Who adds the pairs (with --add).")] = "matcher campaign",
) -> None:
    """An open-licence campaign for one patent: N enterprises spread over regions and sectors by maximal marginal
    relevance, skipping those contacted lately or over the weekly cap; writes campaign_<patent>.xlsx / .csv and, with
    --add, puts the pairs on the shortlist."""
    from matcher.office.campaigns import CAMPAIGN_HEADERS, SKIPPED_HEADERS, add_campaign, build_campaign
    from matcher.office.workbook import officer_table, write_outputs

    try:
        one_thread_per_query()  # single queries (matcher.threads)
        matcher = _load(index_dir)
        store = _store(database_url)
        camp = build_campaign(matcher, patent, n=n, pool=max(pool, n), lam=lam, skip_days=skip_days,
                              weekly_cap=weekly_cap, store=store,
                              enterprise_filters=parse_filters(enterprise_filter, "--enterprise-filter"))
        rows = officer_table(camp.rows, CAMPAIGN_HEADERS)
        paths = write_outputs(out_dir, f"campaign_{_safe_stem(patent)}", "开放许可推广活动", camp.cover(),
                              {"推广企业": rows, "跳过的企业": camp.skipped.rename(columns=SKIPPED_HEADERS)}, rows)
        added = add_campaign(store, camp, user=user) if add else None
    except (MatcherError, ValueError, OSError) as exc:
        _fail(exc)
    table = Table(title=f"campaign for {escape(patent)}: {escape(str(camp.patent.get('title', '')))}")
    for col in ("#", "enterprise", "name", "region", "sector", "匹配度", "engine rank", "licence fit"):
        table.add_column(col)
    for r in camp.rows.itertuples():
        table.add_row(str(r.rank), escape(r.enterprise_id), escape(str(r.name)), escape(r.region), escape(r.sector),
                      str(r.degree), str(r.engine_rank), escape(r.licence_fit))
    out.print(table)
    out.print(f"{camp.rows['region'].replace('', None).nunique()} regions, {camp.rows['sector'].nunique()} sectors; "
              f"skipped {len(camp.skipped)} enterprises (recent contact / weekly cap / already on the shortlist)")
    if added is not None:
        out.print(f"shortlist: {added[0]} pairs added as 待推送, {added[1]} already there")
    out.print(f"written: {', '.join(str(p) for p in paths)}")


def digest(
    enterprise: Annotated[list[str], typer.Option("--enterprise", "--demand", help="Enterprise / demand id (repeatable).")],
    index_dir: IndexDir = DEFAULT_INDEX,
    out_dir: OutDir = DEFAULT_OUT,
    m: Annotated[int, typer.Option("--m", min=1, help="At most this many patents per digest.")] = 5,
    fit: Annotated[Optional[str], typer.Option("--fit", help="Keep only patents whose licence fit is at least 契合 or 可协商 (unknown fits pass).")] = None,
    patent_filter: Annotated[Optional[list[str]], typer.Option("--patent-filter", help="column=value on ranked patents.")] = None,
    database_url: DbOpt = None,
) -> None:
    """Each enterprise's weekly digest: at most M patents not yet offered to it, with the licence-fit line; writes
    digest_<enterprise>_<week>.xlsx / .csv."""
    from matcher.office.contacts import contact_history
    from matcher.office.digest import DIGEST_HEADERS, weekly_digest
    from matcher.office.workbook import officer_table, write_outputs
    from matcher.tracking.terms import current_terms

    year, week, _ = date.today().isocalendar()
    label = f"{year}-W{week:02d}"
    try:
        if fit is not None and fit not in FIT_LEVELS:
            raise MatcherError(f"--fit must be 契合 or 可协商 (got {fit!r})")
        one_thread_per_query()  # single queries (matcher.threads)
        matcher = _load(index_dir)
        store = _store(database_url)
        contacts, terms = contact_history(store), current_terms(store)
        for eid in enterprise:
            d = weekly_digest(matcher, eid, m=m, contact=contacts.get(eid), min_fit=FIT_LEVELS.get(fit or ""),
                              patent_filters=parse_filters(patent_filter, "--patent-filter"), terms=terms)
            rows = officer_table(d.rows, DIGEST_HEADERS)
            paths = write_outputs(out_dir, f"digest_{_safe_stem(eid)}_{label}", f"每周专利推荐（{label}）", d.cover(label),
                                  {"推荐专利": rows}, rows)
            table = Table(title=f"weekly digest {label} for {escape(eid)}: {escape(str(d.enterprise.get('name', '')))}")
            for col in ("#", "patent", "title", "licence mode", "匹配度", "licence fit"):
                table.add_column(col)
            for r in d.rows.itertuples():
                table.add_row(str(r.rank), escape(r.patent_id), escape(str(r.title)), escape(str(r.license_mode)),
                              str(r.degree), escape(r.licence_line))
            out.print(table)
            out.print(f"written: {', '.join(str(p) for p in paths)}")
    except (MatcherError, ValueError, OSError) as exc:
        _fail(exc)


@outcomes_app.command("simulate")
def outcomes_simulate(
    log: Annotated[Path, typer.Option("--log", help="Where the simulated outcome log (CSV) is written.")],
    index_dir: IndexDir = DEFAULT_INDEX,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed and index, same log).")] = 7,
    weeks: Annotated[int, typer.Option("--weeks", min=1)] = 8,
    per_week: Annotated[int, typer.Option("--enterprises-per-week", min=1)] = 40,
    per_enterprise: Annotated[int, typer.Option("--per-enterprise", min=1)] = 3,
    all_enterprises: Annotated[bool, typer.Option("--all-enterprises", help="Push to every enterprise record, not only demands.")] = False,
    replay_url: Annotated[Optional[str], typer.Option(
        "--replay-into", help="Also replay the log into this tracking database (use a separate one: every item is "
                              "marked 模拟数据).")] = None,
) -> None:
    """Simulate officers pushing and firms answering (seeded; documented in matcher.office.simulate) and write the
    outcome log; clearly labelled simulated (模拟)."""
    from matcher.office.simulate import SimulationSettings, replay, simulate

    try:
        matcher = _load(index_dir)
        frame = simulate(matcher, SimulationSettings(seed=seed, weeks=weeks, enterprises_per_week=per_week,
                                                     per_enterprise=per_enterprise, demands_only=not all_enterprises))
        log.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(log, index=False, encoding="utf-8")
        written = replay(frame, _store(replay_url), matcher) if replay_url else None
    except (MatcherError, ValueError, OSError) as exc:
        _fail(exc)
    counts = frame.groupby(["status", "reason"], dropna=False).size().reset_index(name="n")
    out.print(f"SIMULATED outcome log (模拟, seed {seed}): {len(frame):,} pushes over {weeks} weeks")
    table = Table(title="outcomes (模拟)")
    for col in ("status", "reason", "pairs"):
        table.add_column(col)
    for r in counts.itertuples():
        table.add_row(escape(r.status), escape(str(r.reason or "")), str(r.n))
    out.print(table)
    out.print(f"log written to {log}")
    if written is not None:
        out.print(f"replayed {written:,} pairs into {replay_url} (each noted 模拟数据)")


@outcomes_app.command("fit")
def outcomes_fit(
    log: Annotated[Path, typer.Option("--log", help="An outcome log (matcher outcomes simulate --log, or real outcomes in the same columns).")],
    model_out: Annotated[Path, typer.Option("--model-out", help="Where the fitted model is written.")] = DEFAULT_MODEL,
    held_out: Annotated[float, typer.Option("--held-out", min=0.1, max=0.5, help="Share of the latest weeks held out.")] = 0.25,
) -> None:
    """Fit the learning-to-rank model (logistic regression over the engine's signals) on the earlier weeks of an
    outcome log and compare it with the default order on the latest weeks; `apply` uses it only when it wins.
    Prints one JSON line last."""
    import pandas as pd

    from matcher.office.ltr import fit_outcomes

    try:
        frame = pd.read_csv(log, dtype={"enterprise_id": str, "patent_id": str, "reason": str}, keep_default_na=False)
        model = fit_outcomes(frame, held_out=held_out)
        model.save(model_out)
    except (MatcherError, ValueError, OSError, KeyError) as exc:
        _fail(exc)
    verdict = "replaces the default order" if model.wins else "kept out: the default order stays"
    out.print(f"held-out ROC AUC (good outcome = replied or further): model {model.auc_model:.3f}, default order "
              f"{model.auc_default:.3f} -> {verdict}")
    out.print(f"model written to {model_out}")
    print(json.dumps({"auc_model": model.auc_model, "auc_default": model.auc_default, "wins": model.wins, **model.card},
                     ensure_ascii=False))


@outcomes_app.command("apply")
def outcomes_apply(
    index_dir: IndexDir = DEFAULT_INDEX,
    database_url: DbOpt = None,
    model: Annotated[Optional[Path], typer.Option("--model", help="A fitted outcome model (used only when it won on its held-out outcomes).")] = None,
    enterprise: Annotated[Optional[list[str]], typer.Option("--enterprise", help="Enterprises whose lists are shown (default: those the outcomes change most).")] = None,
    show: Annotated[int, typer.Option("--show", min=1, help="How many enterprises' lists are printed before / after.")] = 3,
    k: Annotated[int, typer.Option("--k", "-k", min=1)] = 10,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Also write next_night_before.csv / next_night_after.csv of every enterprise with an outcome.")] = None,
) -> None:
    """What the outcomes in the tracking database change in the next night's enterprise -> patent lists: the rules
    (技术不成熟 lowers a patent, 已有方案 stops similar patents to that enterprise, 洽谈中 / 已许可 raise similar pairs) and a
    learnt model when it won; prints before / after lists."""
    from matcher.office.ltr import OutcomeModel
    from matcher.office.outcomes import OutcomePriors, next_lists, read_outcomes
    from matcher.export.sheets import write_csv
    from matcher.office.simulate import SIMULATED_NOTE

    try:
        matcher = _load(index_dir)
        store = _store(database_url)
        outcomes = read_outcomes(store)
        if outcomes.empty:
            raise MatcherError("the tracking database holds no outcomes (matcher outcomes simulate --replay-into URL "
                               "writes a simulated log)")
        learnt = OutcomeModel.load(model) if model is not None else None
        use = learnt if learnt is not None and learnt.wins else None
        simulated = bool((store.frame()["note"] == SIMULATED_NOTE).all())
        priors = OutcomePriors(matcher, outcomes)
        ids = enterprise or sorted(set(outcomes["enterprise_id"]) & set(matcher.collection("enterprise").ids))
        before, after = next_lists(matcher, priors, ids, k=k, model=use)
    except (MatcherError, ValueError, OSError) as exc:
        _fail(exc)
    label = "SIMULATED outcomes (模拟)" if simulated else "outcomes"
    out.print(f"{label}: {len(outcomes):,} pairs; rules: {len(priors.refusals)} patents refused as 技术不成熟, "
              f"{len(priors.solved)} 已有方案 refusals, {len(priors.positive)} positive outcomes")
    if learnt is not None:
        out.print(f"learnt model: held-out ROC AUC {learnt.auc_model:.3f} vs default {learnt.auc_default:.3f} -> "
                  f"{'used' if use is not None else 'not used (it did not win)'}")
    changed = {}
    for eid in ids:
        b = before[before["enterprise_id"] == eid]["patent_id"].tolist()
        a = after[after["enterprise_id"] == eid]["patent_id"].tolist()
        changed[eid] = len(set(a) ^ set(b)) + sum(x != y for x, y in zip(a, b)) / 100.0
    n_changed = sum(v > 0 for v in changed.values())
    out.print(f"{n_changed} of {len(ids)} enterprises' lists change")
    shown = enterprise or sorted(changed, key=lambda e: -changed[e])[:show]
    for eid in shown[:show] if not enterprise else shown:
        name = matcher.collection("enterprise").record(eid).get("name", "") if eid in matcher.collection("enterprise") else ""
        table = Table(title=f"{escape(eid)} {escape(str(name))}: next night's list before -> after", show_lines=False)
        for col in ("#", "before", "after", "why"):
            table.add_column(col, overflow="fold")
        b = before[before["enterprise_id"] == eid].reset_index(drop=True)
        a = after[after["enterprise_id"] == eid].reset_index(drop=True)
        for i in range(max(len(a), len(b))):
            bt = f"{b.at[i, 'patent_id']} {b.at[i, 'title'][:24]}" if i < len(b) else ""
            at_ = f"{a.at[i, 'patent_id']} {a.at[i, 'title'][:24]}" if i < len(a) else ""
            if i < len(a):
                moved = "new" if a.at[i, "before_rank"] != a.at[i, "before_rank"] else f"was #{int(a.at[i, 'before_rank'])}"
                why = f"{moved}; {a.at[i, 'reason']}" if a.at[i, "reason"] else moved
            else:
                why = ""
            table.add_row(str(i + 1), escape(bt), escape(at_), escape(why))
        gone = sorted(set(b["patent_id"]) - set(a["patent_id"]))
        out.print(table)
        if gone:
            f = priors.features(eid, gone)
            why = [f"{p} ({'refused as 技术不成熟 ' + str(int(r)) + 'x' if r else ''}"
                   f"{'; ' if r and s >= priors.rules.similar else ''}"
                   f"{f'{s:.2f} similar to a patent it refused as 已有方案' if s >= priors.rules.similar else ''})"
                   for p, r, s in zip(gone, f["refusals"], f["solved_similarity"])]
            out.print("  left the list: " + ", ".join(w.replace(" ()", " (pushed down by the others)") for w in why))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_csv(before, out_dir / "next_night_before.csv")
        write_csv(after, out_dir / "next_night_after.csv")
        out.print(f"written: {out_dir / 'next_night_before.csv'}, {out_dir / 'next_night_after.csv'}")


def register(app: typer.Typer) -> None:
    """Add the office's commands to the `matcher` app."""
    app.command("catalogue")(catalogue)
    app.command("campaign")(campaign)
    app.command("digest")(digest)
    app.add_typer(outcomes_app, name="outcomes")
