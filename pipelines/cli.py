"""The product's `matcher` commands: build, upsert, delete, search, match (nightly export), train and train-activity
(on a built index). The research commands are `matcher lab ...` (pipelines.lab.cli, mounted by pipelines.main)."""

from __future__ import annotations

import json
import logging
import math
import time
from functools import partial
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from matcher.build import build_index
from matcher.config import PROJECT_ROOT, load_config
from matcher.engine import Matcher, Query
from matcher.errors import MatcherError
from matcher.ingest import LoadResult, load_records, load_source, parse_mapping, shared_dir
from matcher.results import shortfall_note
from matcher.schema import Kind
from matcher.threads import one_thread_per_query

app = typer.Typer(help="专利–企业 matchmaking: build indexes, rank and explain matches, export nightly batches.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
out = Console()
err = Console(stderr=True)


class _Notes(logging.Handler):
    """The library's warnings (e.g. a --config overriding settings an index keeps) as one-line notes on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        err.print(f"note: {escape(record.getMessage())}", highlight=False, soft_wrap=True)


logging.getLogger("matcher").addHandler(_Notes(logging.WARNING))

DEFAULT_INDEX = PROJECT_ROOT / "artifacts" / "index"
DEFAULT_EXPORTS = PROJECT_ROOT / "exports"
DEMO_DIR = PROJECT_ROOT / "data" / "demo"
# The real sources used when `matcher build` is given no inputs and ../shared is present.
DEFAULT_SOURCES = ("bdci_patents", "zhibei_demands", "registry_companies")

IndexDir = Annotated[Path, typer.Option("--index-dir", help="Where the index lives.")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="JSON file with engine settings.")]
EncoderOpt = Annotated[Optional[str], typer.Option(
    "--encoder", help="'use-m3', a local sentence-transformers model directory, or an ensemble such as 'use-m3+DIR' (wins over --config).")]
FilterOpt = Annotated[Optional[list[str]], typer.Option("--filter", help="column=value on the ranked side (repeatable), e.g. applicant_type=高校.")]
EngineOpt = Annotated[str, typer.Option(
    "--engine", help="'local' (this process) or 'ray' (Ray workers; needs the extra: pip install -e \".[ray]\").")]
AddressOpt = Annotated[Optional[str], typer.Option(
    "--address", help="With --engine ray: the cluster's address (ray://HOST:10001); default: a local Ray instance.")]
LockTimeoutOpt = Annotated[Optional[float], typer.Option(
    "--lock-timeout", min=0, help="Seconds to wait while another writer (build, upsert, delete) holds the index "
                                  "(default: env MATCHER_LOCK_TIMEOUT, else 600).")]


def _fail(exc: Exception) -> None:
    # a tracking DatabaseError carries its message in English for the CLI (its str() is the officer's Chinese one)
    err.print(f"[bold red]error:[/] {escape(str(getattr(exc, 'english', exc)))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _matcher(config: Path | None, encoder: str | None) -> Matcher:
    return Matcher(load_config(config, encoder=encoder))


def _waiting(message: str) -> None:
    err.print(escape(message), highlight=False, soft_wrap=True)


def _load(index_dir: Path, config: Path | None, encoder: str | None) -> Matcher:
    """The index with the configuration saved in it; --config / --encoder only change the fields they set."""
    return Matcher.load(index_dir, load_config(config, encoder=encoder) if config or encoder else None)


def parse_filters(items: list[str] | None, option: str = "--filter") -> dict[str, list[str]]:
    """column=value[|value...] options as {column: [values]} (MatcherError naming `option` on a malformed one)."""
    filters: dict[str, list[str]] = {}
    for item in items or []:
        if "=" not in item:
            raise MatcherError(f"{option} {item!r} must look like column=value (e.g. applicant_type=高校)")
        col, value = item.split("=", 1)
        filters.setdefault(col.strip(), []).extend(v.strip() for v in value.split("|") if v.strip())
    return filters


def _check_engine(engine: str, address: str | None) -> bool:
    """Whether the job runs on Ray (MatcherError for an unknown engine or an --address without --engine ray)."""
    if engine not in ("local", "ray"):
        raise MatcherError(f"--engine must be 'local' or 'ray' (got {engine!r})")
    if address and engine != "ray":
        raise MatcherError("--address names a Ray cluster: give it with --engine ray")
    return engine == "ray"


def _load_inputs(patents: list[Path], enterprises: list[Path], sources: list[str], mapping: list[str] | None,
                 encoding: str | None, sheet: str | None) -> list[LoadResult]:
    """Read every input; with none given, use the real shared data when present, else the demo set."""
    if not (patents or enterprises or sources):
        if (shared_dir() / "data").is_dir():
            sources = list(DEFAULT_SOURCES)
            err.print(f"no inputs given: using the real data in {shared_dir()} ({', '.join(sources)})")
        else:
            patents, enterprises = [DEMO_DIR / "patents.csv"], [DEMO_DIR / "enterprises.csv"]
            err.print(f"no inputs given and no shared data: using the illustrative demo set in {DEMO_DIR}")
    cols = parse_mapping(mapping)
    loaded = [load_source(name) for name in sources]
    for kind, paths in ((Kind.PATENT, patents), (Kind.ENTERPRISE, enterprises)):
        for path in paths:
            loaded.append(load_records(path, kind, mapping=cols or None, encoding=encoding, sheet=sheet))
    for result in loaded:
        err.print(escape(result.report()), highlight=False, soft_wrap=True)
    return loaded


def _index_all(matcher: Matcher, loaded: list[LoadResult]) -> dict[Kind, tuple[int, int]]:
    counts: dict[Kind, tuple[int, int]] = {}
    for result in loaded:
        added, replaced = matcher.index(result.kind, result.frame, show_progress=True)
        a, r = counts.get(result.kind, (0, 0))
        counts[result.kind] = (a + added, r + replaced)
    return counts


InputOpts = {
    "patents": typer.Option("--patents", help="Patent file (CSV/XLSX/JSONL/Parquet), repeatable."),
    "enterprises": typer.Option("--enterprises", help="Enterprise / demand file, repeatable."),
    "source": typer.Option("--source", help="A real source from ../shared: bdci_patents, zhibei_demands, zhibei_offers, registry_companies, registry_companies_200k."),
    "map": typer.Option("--map", help="Column mapping canonical=header, e.g. abstract=摘要内容 (repeatable)."),
    "encoding": typer.Option("--encoding", help="Force a text encoding for CSV files (e.g. gbk)."),
    "sheet": typer.Option("--sheet", help="XLSX sheet name or index."),
}


@app.command()
def build(
    patents: Annotated[list[Path], InputOpts["patents"]] = [],
    enterprises: Annotated[list[Path], InputOpts["enterprises"]] = [],
    source: Annotated[list[str], InputOpts["source"]] = [],
    map: Annotated[Optional[list[str]], InputOpts["map"]] = None,
    encoding: Annotated[Optional[str], InputOpts["encoding"]] = None,
    sheet: Annotated[Optional[str], InputOpts["sheet"]] = None,
    index_dir: IndexDir = DEFAULT_INDEX,
    config: ConfigOpt = None,
    encoder: EncoderOpt = None,
    replace_all: Annotated[bool, typer.Option(
        "--replace-all", help="Drop the side (patents or enterprises) given no input; by default the index keeps it.")] = False,
    full: Annotated[bool, typer.Option(
        "--full", help="Index every record again even when the saved index has the same settings.")] = False,
    lock_timeout: LockTimeoutOpt = None,
    engine: EngineOpt = "local",
    address: AddressOpt = None,
) -> None:
    """Ingest -> segment -> embed -> index. The sides given inputs hold exactly their records, the other side keeps
    its current records (unless --replace-all). When the saved index has the same settings, only the new, changed
    and gone records are applied to it; the index is replaced atomically (the old one stays until done)."""
    try:
        t0 = time.perf_counter()
        on_ray = _check_engine(engine, address)
        matcher = _matcher(config, encoder)
        loaded = _load_inputs(patents, enterprises, source, map, encoding, sheet)
        if on_ray:
            from matcher.distributed.data import ray_matcher

            matcher = ray_matcher(matcher.config, loaded, address=address)
        report = build_index(matcher, loaded, index_dir, replace_all=replace_all, incremental=not (full or on_ray),
                             lock_timeout=lock_timeout, on_wait=_waiting, show_progress=True)
    except MatcherError as exc:
        _fail(exc)
    matcher = report.matcher
    if report.incremental:
        out.print(f"updated the saved index ({escape(report.reason)}; --full indexes everything again)")
    else:
        out.print(f"full build ({escape(report.reason)})")
    for kind in Kind:
        if kind in report.changes:
            c = report.changes[kind]
            out.print(f"{kind.value}: {c.added:,} added, {len(c.upserts) - c.added:,} changed, {len(c.deletions):,} "
                      f"deleted, {c.unchanged:,} unchanged ({matcher.count(kind):,} records)")
        elif any(r.kind == kind for r in loaded):
            out.print(f"{kind.value}: rebuilt from the inputs ({matcher.count(kind):,} records)")
        elif kind in report.kept:
            out.print(f"{kind.value}: kept from the current index ({report.kept[kind]:,} records; --replace-all drops them)")
        elif report.dropped.get(kind):
            out.print(f"{kind.value}: dropped ({report.dropped[kind]:,} records, --replace-all)")
    if not report.saved:
        out.print(f"nothing changed: the index at {index_dir} is left as it is")
    table = Table(title=f"index {'built' if report.saved else 'unchanged'} at {index_dir}")
    for col in ("kind", "records", "encoder", "dense backend"):
        table.add_column(col)
    for coll in (matcher.get(kind) for kind in matcher.kinds):  # `map` is the --map option here
        table.add_row(coll.kind.value, f"{len(coll):,}", coll.model_id, coll.dense.active_backend or "-")
    out.print(table)
    out.print(f"done in {time.perf_counter() - t0:.1f} s")


@app.command()
def upsert(
    patents: Annotated[list[Path], InputOpts["patents"]] = [],
    enterprises: Annotated[list[Path], InputOpts["enterprises"]] = [],
    map: Annotated[Optional[list[str]], InputOpts["map"]] = None,
    encoding: Annotated[Optional[str], InputOpts["encoding"]] = None,
    sheet: Annotated[Optional[str], InputOpts["sheet"]] = None,
    index_dir: IndexDir = DEFAULT_INDEX,
    config: ConfigOpt = None,
    encoder: EncoderOpt = None,
    lock_timeout: LockTimeoutOpt = None,
) -> None:
    """Add or replace individual patents / enterprises in the existing index (no full rebuild)."""
    try:
        if not (patents or enterprises):
            raise MatcherError("give --patents FILE and/or --enterprises FILE with the records to add or replace")
        loaded = _load_inputs(patents, enterprises, [], map, encoding, sheet)
        with Matcher.lock(index_dir, timeout=lock_timeout, on_wait=_waiting):  # applied to the latest saved index
            matcher = _load(index_dir, config, encoder)
            counts = _index_all(matcher, loaded)
            matcher.save(index_dir)
    except MatcherError as exc:
        _fail(exc)
    for kind, (added, replaced) in counts.items():
        out.print(f"{kind.value}: {added} added, {replaced} replaced; {matcher.count(kind):,} in the index")


@app.command()
def delete(
    patent: Annotated[list[str], typer.Option("--patent", help="Patent id to delete (repeatable).")] = [],
    enterprise: Annotated[list[str], typer.Option("--enterprise", "--demand", help="Enterprise / demand id to delete (repeatable).")] = [],
    index_dir: IndexDir = DEFAULT_INDEX,
    config: ConfigOpt = None,
    encoder: EncoderOpt = None,
    lock_timeout: LockTimeoutOpt = None,
) -> None:
    """Delete individual patents / enterprises from the index (no full rebuild)."""
    try:
        if not (patent or enterprise):
            raise MatcherError("give --patent ID and/or --enterprise ID")
        with Matcher.lock(index_dir, timeout=lock_timeout, on_wait=_waiting):  # applied to the latest saved index
            matcher = _load(index_dir, config, encoder)
            removed = {kind: matcher.delete(kind, ids) for kind, ids in ((Kind.PATENT, patent), (Kind.ENTERPRISE, enterprise)) if ids}
            matcher.save(index_dir)
    except MatcherError as exc:
        _fail(exc)
    for kind, n in removed.items():
        out.print(f"{kind.value}: {n} deleted; {matcher.count(kind):,} left")


@app.command()
def search(
    text: Annotated[Optional[str], typer.Argument(help="Free text: a demand or a technology description.")] = None,
    demand: Annotated[Optional[str], typer.Option("--demand", "--enterprise", help="Rank patents for this enterprise / demand id.")] = None,
    patent: Annotated[Optional[str], typer.Option("--patent", help="Rank enterprises for this patent id.")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="What to rank for free text: patent (default) or enterprise.")] = None,
    k: Annotated[int, typer.Option("--k", "-k", help="How many results.")] = 10,
    filter: FilterOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    index_dir: IndexDir = DEFAULT_INDEX,
    config: ConfigOpt = None,
    encoder: EncoderOpt = None,
) -> None:
    """One query, printed as a table: free text, --demand ID (-> patents) or --patent ID (-> enterprises)."""
    try:
        if sum(x is not None for x in (text, demand, patent)) != 1:
            raise MatcherError('give exactly one of: "文本", --demand ID, --patent ID')
        one_thread_per_query()
        matcher = _load(index_dir, config, encoder)
        if demand is not None:
            query, tgt = matcher.query_for(Kind.ENTERPRISE, demand), Kind.PATENT
        elif patent is not None:
            query, tgt = matcher.query_for(Kind.PATENT, patent), Kind.ENTERPRISE
        else:
            query, tgt = Query(text=text or ""), Kind(target or "patent")
        result = matcher.search(query, tgt, k=k, filters=parse_filters(filter))[0]
    except (MatcherError, ValueError) as exc:
        _fail(exc)
    if as_json:
        rows = [{"rank": m.rank, "id": m.target_id, "score": m.score,
                 **{name: value if math.isfinite(value) else None for name, value in m.components.items()},  # NaN: no evidence
                 "shared_terms": m.explanation.shared_terms, "closest_sentence": m.explanation.closest_sentence,
                 "held_patent": m.explanation.held_patent, "held_similarity": m.explanation.held_similarity,
                 "record": m.record} for m in result.matches]
        print(json.dumps({"available": result.available, "matches": rows}, ensure_ascii=False, indent=2))
        return
    name_col = "title" if tgt == Kind.PATENT else "name"
    table = Table(title=f"{'专利' if tgt == Kind.PATENT else '企业/需求'} 排名 (top {k})", show_lines=True)
    for col in ("#", "id", "名称", "综合分", "语义", "BM25", "共同关键词", "最相近专利句"):
        table.add_column(col, overflow="fold")
    for m in result.matches:
        table.add_row(str(m.rank), escape(m.target_id), escape(m.record.get(name_col, "")), f"{m.score:.3f}",
                      f"{m.components['dense']:.3f}", f"{m.components['bm25']:.2f}",
                      escape("、".join(m.explanation.shared_terms)), escape(m.explanation.closest_sentence[:80]))
    out.print(table)
    if note := shortfall_note(result):
        out.print(note)


@app.command()
def match(
    index_dir: IndexDir = DEFAULT_INDEX,
    out_dir: Annotated[Path, typer.Option("--out", help="Export root; files go to OUT/matches.")] = DEFAULT_EXPORTS,
    k: Annotated[int, typer.Option("--k", "-k", help="Matches per enterprise and per patent.")] = 10,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Queries per resumable chunk.")] = 500,
    formats: Annotated[str, typer.Option("--formats", help="Comma-separated: csv,parquet,xlsx.")] = "csv,parquet,xlsx",
    patent_filter: Annotated[Optional[list[str]], typer.Option("--patent-filter", help="column=value on ranked patents, e.g. applicant_type=高校.")] = None,
    enterprise_filter: Annotated[Optional[list[str]], typer.Option("--enterprise-filter", help="column=value on ranked enterprises.")] = None,
    max_per_enterprise: Annotated[Optional[int], typer.Option(
        "--max-per-enterprise", min=1,
        help="patent -> enterprise lists: no enterprise (or demand) in more than this many patents' lists; the freed "
             "slots go to each list's next candidates. Default: no cap.")] = None,
    max_per_patent: Annotated[Optional[int], typer.Option(
        "--max-per-patent", min=1, help="enterprise -> patent lists: no patent in more than this many enterprises' lists.")] = None,
    depth: Annotated[Optional[int], typer.Option("--depth", help="Candidates ranked per query under a cap (default 10 x k).")] = None,
    skip_tracked: Annotated[bool, typer.Option(
        "--skip-tracked", help="Leave out the pairs already on the officers' shortlist (any status), so each night's lists "
                               "offer only pairs nobody has acted on; the lists fill from their next candidates.")] = False,
    database_url: Annotated[Optional[str], typer.Option(
        "--database-url", help="Tracking database read by --skip-tracked (default: env DATABASE_URL, else "
                               "artifacts/tracking.sqlite).")] = None,
    keep_unconfident: Annotated[bool, typer.Option(
        "--keep-unconfident", help="Keep the enterprise -> patent pairs below the confidence model's threshold (by "
                                   "default they are left out and counted in the run manifest).")] = False,
    by_sector: Annotated[bool, typer.Option(
        "--by-sector", help="Also write one push list per sector (GB/T 4754 门类 of the patent; from the grades table "
                            "when the index was graded) into OUT/by_sector: SECTOR.xlsx (cover + both directions) and "
                            "SECTOR.csv.")] = False,
    chains: Annotated[Optional[Path], typer.Option(
        "--chains", help="With --by-sector: one list per industry chain of this TOML file instead (e.g. "
                         "config/chains.example.toml).")] = None,
    config: ConfigOpt = None,
    encoder: EncoderOpt = None,
    engine: EngineOpt = "local",
    address: AddressOpt = None,
    full: Annotated[bool, typer.Option(
        "--full", help="Rank every list again; by default, when the previous run in OUT had the same settings, only "
                       "the lists a change of the records can move are ranked again (the same export; the run "
                       "manifest says which and why).")] = False,
) -> None:
    """The nightly batch: top-k for every enterprise and every patent, with a run manifest; resumes if killed."""
    from matcher.export import NightlyJob
    from matcher.office.pair_columns import office_columns
    from matcher.schema import Direction

    try:
        exclude = None
        if skip_tracked:
            from matcher.tracking import TrackingStore

            exclude = list(TrackingStore(database_url).pair_status())
        on_ray = _check_engine(engine, address)
        matcher = _load(index_dir, config, encoder)
        executor = None
        if on_ray:
            from matcher.distributed.executor import RayExecutor
            from matcher.export import index_info

            executor = RayExecutor(index_dir, load_config(config, encoder=encoder) if config or encoder else None,
                                   {kind: info["data_hash"] for kind, info in index_info(matcher).items()}, address=address)
        job = NightlyJob(matcher, k=k, chunk_size=chunk_size, formats=[f.strip() for f in formats.split(",") if f.strip()],
                         filters={"patent": parse_filters(patent_filter, "--patent-filter"),
                                  "enterprise": parse_filters(enterprise_filter, "--enterprise-filter")},
                         max_per_target={direction: cap for direction, cap in ((Direction.PATENT_TO_ENTERPRISE, max_per_enterprise),
                                                                                (Direction.ENTERPRISE_TO_PATENT, max_per_patent))
                                         if cap is not None},
                         depth=depth, exclude_pairs=exclude, keep_unconfident=keep_unconfident, executor=executor,
                         incremental=not full, annotate=partial(office_columns, matcher))
        manifest = job.run(out_dir, show_progress=True)
    except (MatcherError, ValueError, OSError) as exc:  # OSError: the export folder cannot be written (disk full, rights)
        _fail(exc)
    out.print(f"exports written to {out_dir / 'matches'}: {', '.join(manifest.files)}")
    for direction, n in manifest.rows.items():
        out.print(f"  {direction}: {n:,} pairs")
    if skip_tracked:
        out.print(f"  left out {manifest.excluded_pairs:,} pairs already on the shortlist")
    out.print(f"  {manifest.mode} run" + "".join(f"; {d}: {n:,} lists ranked again" for d, n in manifest.recomputed.items()))
    if manifest.chunks_resumed:
        out.print(f"  resumed {manifest.chunks_resumed} of {manifest.chunks_total} chunks from an interrupted run")
    for note in manifest.notes:
        out.print(f"  note: {note}")
    if by_sector or chains is not None:
        _by_sector(out_dir, index_dir, matcher, chains, manifest.finished_at)
    out.print(f"done in {manifest.seconds:.1f} s")


def _by_sector(out_dir: Path, index_dir: Path, matcher: Matcher, chains: Path | None, run: str) -> None:
    """`matcher match --by-sector`: the export split into one push list per sector or chain (matcher.office.bysector)."""
    from matcher.office.bysector import sector_lists, write_sector_lists
    from matcher.sectors import load_chains

    try:
        lists = sector_lists(out_dir / "matches", matcher, index_dir=index_dir,
                             chains=load_chains(chains) if chains is not None else None)
        folder = write_sector_lists(out_dir, lists, by="产业链" if chains is not None else "门类", run=run)
    except (MatcherError, OSError) as exc:
        _fail(exc)
    out.print(f"push lists by {'chain' if chains is not None else 'sector'} in {folder}: "
              + ", ".join(f"{label} ({sum(len(f) for f in d.values()):,})" for label, d in lists.items()))


def _register_train() -> None:
    from pipelines.train_activity import main as train_activity_main
    from pipelines.train_encoder import main as train_main

    app.command("train", help="Train an in-domain static encoder from scratch on the records of a built index "
                              "(--from-index DIR --out DIR); use the result with --encoder 'use-m3+DIR' or an engine "
                              "config. On the shared research data: `matcher lab train`.")(train_main)
    app.command("train-activity", help="Train the patent-activity model (which enterprises look like those that file "
                                       "patents) on the records of a built index (--from-index DIR --out DIR); use it "
                                       "with \"activity_model\": \"DIR\" in an engine config (see config/activity.json). "
                                       "On the shared research data: `matcher lab train-activity`.")(train_activity_main)


_register_train()

if __name__ == "__main__":
    app()
