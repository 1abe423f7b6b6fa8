"""Nightly batch matching: top-k in both directions, written as CSV, Parquet and XLSX, atomically and resumably."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from matcher import __version__
from matcher.engine import Match, Matcher, Query, SearchResult
from matcher.errors import InputError
from matcher.export.incremental import (DirectionState, RunState, assemble, query_fingerprints, ranked_side, same_state,
                                        spans, unchanged)
from matcher.export.kept import file_stat, link_kept, rows_digest
from matcher.export.chunks import ChunkExecutor, ChunkTask, LocalExecutor, compute_chunk
from matcher.export.rows import EXPLANATION_COLUMNS, EXPORT_COLUMNS, explanation_values, result_rows
from matcher.export.sheets import write_csv, write_xlsx
from matcher.export.workdir import WorkDir, part_problem, write_part
from matcher.index.collection import CONTENT
from matcher.index.atomic import atomic_dir, atomic_write_text
from matcher.index.manifest import utc_now
from matcher.memory import drop_mapped_pages
from matcher.rank.exposure import KEY_COLUMNS, cap_exposure
from matcher.schema import RECORD_DIRECTIONS, Direction, Kind

__all__ = ["EXPORT_COLUMNS", "FORMATS", "ChunkExecutor", "ChunkTask", "LocalExecutor", "NightlyJob", "RunManifest",
           "compute_chunk", "export_stem", "index_info", "result_rows"]

FORMATS = ("csv", "parquet", "xlsx")
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, minus the header



@dataclass
class RunManifest:
    """What a batch run produced, stored as run_manifest.json beside the exports."""

    run_key: str
    started_at: str
    finished_at: str = ""
    k: int = 10
    directions: list[str] = field(default_factory=list)
    filters: dict = field(default_factory=dict)
    index: dict = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    chunks_total: int = 0
    chunks_resumed: int = 0
    max_per_target: dict[str, int] = field(default_factory=dict)
    exposure: dict[str, dict] = field(default_factory=dict)
    excluded_pairs: int = 0
    unconfident: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0
    mode: str = "full"
    recomputed: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # per direction: `rows_digest` of the rows written
    file_stats: dict[str, list[int]] = field(default_factory=dict)  # per file: `file_stat` once written

    @classmethod
    def read(cls, path: str | Path) -> RunManifest:
        """A run_manifest.json written by `NightlyJob.run` (fields a newer writer added are ignored).

        Raises:
            InputError: the file cannot be read or is not a run manifest.
        """
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"not a readable run manifest ({exc})", file=str(path),
                             hint="run `matcher match` again to rewrite the exports") from exc
        names = {f.name for f in fields(cls)}
        if not isinstance(raw, dict) or "run_key" not in raw or "started_at" not in raw:
            raise InputError("not a run manifest: 'run_key' and 'started_at' are missing", file=str(path),
                             hint="run `matcher match` again to rewrite the exports")
        return cls(**{k: v for k, v in raw.items() if k in names})


def index_info(matcher: Matcher) -> dict[str, dict]:
    """What a run records of the index it ranked: kind -> rows, encoder model id and the records' data hash."""
    return {k.value: {"rows": len(c), "model_id": c.model_id, "data_hash": c.manifest().data_hash}
            for k, c in sorted((k, matcher.get(k)) for k in matcher.kinds)}


def _previous_manifest(folder: Path) -> RunManifest | None:
    """The manifest of the export in `folder` (None when there is none or it is unreadable)."""
    try:
        return RunManifest.read(folder / "run_manifest.json")
    except InputError:
        return None


def export_stem(direction: Direction | str) -> str:
    """The file name stem of one direction's export ("enterprise->patent" -> "enterprise_to_patent")."""
    return Direction(direction).stem


class NightlyJob:
    """Runs the nightly all-pairs top-k job over a built index.

    Work is split into chunks of queries; each finished chunk is stored as a Parquet part in a work
    directory keyed by the index contents and job parameters, so a killed run resumes where it
    stopped. The final files are assembled in a temporary directory and swapped in atomically: the
    previous export stays intact until the new one is complete.

    Args:
        matcher: a loaded Matcher with both collections.
        k: matches per query.
        chunk_size: queries per chunk (the unit of resumption).
        filters: filters on the ranked side, per kind: {"patent": {...}, "enterprise": {...}}.
        formats: output formats among csv, parquet, xlsx.
        directions: which of RECORD_DIRECTIONS to run (Direction members or their values).
        max_per_target: direction -> the most lists one target may appear in (e.g. {Direction.PATENT_TO_ENTERPRISE: 20}: no
            enterprise in more than 20 patents' lists); directions not named are not capped. The queries of a
            capped direction are ranked `depth` deep and the slots re-assigned by
            `matcher.rank.exposure.cap_exposure`; `rank` is the position in the capped list and `engine_rank` the
            position the engine gave.
        depth: candidates ranked per query under a cap (default 10 * k; deep enough that few lists run short).
        exclude_pairs: (patent id, enterprise id) pairs left out of every list, in both directions (e.g. the pairs
            already on the officers' shortlist, `matcher match --skip-tracked`); each list is filled from its next
            candidates instead.
        keep_unconfident: keep the pairs whose `confidence` is below the confidence model's threshold (by default
            they are left out of the lists; `matcher match --keep-unconfident`).
        executor: computes the chunks a run still needs (`matcher.export.chunks.ChunkExecutor`, e.g. Ray actors,
            matcher.distributed); by default `LocalExecutor`, in this process on `matcher`. The parts and the export
            are written here either way.
        incremental: when the previous finished run in the same export folder had the same settings, rank again
            only the lists a change of the records can move and reuse the others' rows
            (`matcher.export.incremental`); the export is the same as a full run's. False: always a full run.
        annotate: adds columns to each direction's final rows before they are written (e.g. the office's grades
            and licence fit, matcher.office.pair_columns); computed on every run, never stored for reuse.
    """

    def __init__(
        self,
        matcher: Matcher,
        *,
        k: int = 10,
        chunk_size: int = 500,
        filters: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
        formats: Sequence[str] = FORMATS,
        directions: Sequence[Direction | str] = RECORD_DIRECTIONS,
        max_per_target: Mapping[Direction | str, int] | None = None,
        depth: int | None = None,
        exclude_pairs: Iterable[tuple[str, str]] | None = None,
        keep_unconfident: bool = False,
        executor: ChunkExecutor | None = None,
        incremental: bool = True,
        annotate: Callable[[Direction, pd.DataFrame], pd.DataFrame] | None = None,
    ) -> None:
        bad = [f for f in formats if f not in FORMATS]
        if bad:
            raise ValueError(f"unknown export format(s) {bad}; choose from {FORMATS}")
        caps = dict(max_per_target or {})
        for direction, cap in caps.items():
            if direction not in RECORD_DIRECTIONS:
                raise ValueError(f"max_per_target names an unknown direction {str(direction)!r}; "
                                 f"use {[d.value for d in RECORD_DIRECTIONS]}")
            if cap < 1:
                raise ValueError(f"the cap for {direction} must be at least 1 (got {cap}); leave it out for no cap")
        if depth is not None and depth < k:
            raise ValueError(f"depth ({depth}) must be at least k ({k})")
        self.matcher = matcher
        self.k = k
        self.chunk_size = chunk_size
        self.filters = {str(kind): dict(f) for kind, f in (filters or {}).items() if f}  # no filter: the same run
        self.formats = tuple(formats)
        self.directions = [Direction(d) for d in directions if d in RECORD_DIRECTIONS]
        self.max_per_target = {Direction(d): int(c) for d, c in caps.items() if d in self.directions}
        self.depth = depth or 10 * k
        self.keep_unconfident = keep_unconfident
        self.executor = executor if executor is not None else LocalExecutor(matcher)
        self.incremental = incremental
        self.annotate = annotate
        self._raw: dict[Direction, pd.DataFrame] = {}  # per direction: every query's rows before caps and confidence
        self.exclude_pairs = sorted({(str(p), str(e)) for p, e in (exclude_pairs or ())})
        # per direction: query id -> the target ids its list leaves out
        self._exclude: dict[Direction, dict[str, tuple[str, ...]]] = {}
        for direction in RECORD_DIRECTIONS:
            by_query: dict[str, list[str]] = {}
            for patent, enterprise in self.exclude_pairs:
                query, target = (patent, enterprise) if direction.source == Kind.PATENT else (enterprise, patent)
                by_query.setdefault(query, []).append(target)
            self._exclude[direction] = {q: tuple(t) for q, t in by_query.items()}

    def run_key(self, index: dict[str, dict] | None = None) -> str:
        """A key that changes whenever the index contents or the job parameters change (`index`: the
        `index_info` of the matcher, when already computed)."""
        payload = {
            "version": __version__,
            "columns": EXPORT_COLUMNS,
            "index": index if index is not None else index_info(self.matcher),
            "model": self.matcher.encoder.model_id,
            "config": self.matcher.config.model_dump(mode="json", exclude={"cache_dir"}),
            "k": self.k,
            "chunk": self.chunk_size,
            "filters": self.filters,
            "directions": self.directions,
            "max_per_target": self.max_per_target,
            "depth": self.depth if self.max_per_target else None,
            "exclude": hashlib.sha256(json.dumps(self.exclude_pairs).encode()).hexdigest() if self.exclude_pairs else None,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]

    def run(self, out_dir: str | Path, *, show_progress: bool = False) -> RunManifest:
        """Match everything and write the exports into `out_dir/matches`.

        Args:
            out_dir: the export root; parts of unfinished runs live in `out_dir/.work/<run key>`.
            show_progress: show progress bars.

        Returns:
            The run manifest (also written as run_manifest.json).
        """
        out_dir = Path(out_dir)
        t0 = time.perf_counter()
        index = index_info(self.matcher)
        key = self.run_key(index)
        work = WorkDir(out_dir / ".work", key)  # also removes the work folders of finished and abandoned runs
        finished = False
        try:
            manifest = RunManifest(run_key=key, started_at=utc_now(), k=self.k, directions=self.directions,
                                   filters=self.filters, max_per_target=self.max_per_target,
                                   excluded_pairs=len(self.exclude_pairs))
            manifest.index = index
            if work.removed:
                manifest.notes.append(f"removed the work folders of {len(work.removed)} earlier run(s) with other "
                                      f"settings or another index: {', '.join(work.removed)}")
            params = self.run_key({"incremental": True})  # the settings without the records
            state = RunState(out_dir)
            previous = state.read(params) if self.incremental else None
            if not self.incremental:
                manifest.notes.append("full run: asked for (--full)")
            elif previous is None and state.exists():  # the first run in a folder needs no note: its mode says it
                manifest.notes.append("full run: the previous run in this export folder had other settings (or "
                                      "its saved state is unreadable)")
            current: dict[Direction, DirectionState] = {}
            reuse: dict[Direction, DirectionState | None] = {}
            for direction in self.directions:
                if self.matcher.has(direction.source) and self.matcher.has(direction.target):
                    current[direction] = DirectionState(ranked_side(self.matcher, direction),
                                                        query_fingerprints(self.matcher, direction), pd.DataFrame())
                    reuse[direction] = self._reusable(direction, current[direction], previous, manifest)
            frames: dict[Direction, pd.DataFrame] = {}
            for direction in self.directions:
                frames[direction] = self._confident(direction, self._run_direction(direction, work.path, manifest,
                                                                                   show_progress, reuse.pop(direction, None)),
                                                    manifest)
                if previous is not None and direction in previous:  # its kept rows are in the frame now, and a new
                    previous[direction].rows = pd.DataFrame()  # state is written from this run's rows: let them go
                # the pages of the index this direction read: the next one reads others (or the same again from the
                # page cache), and the export needs none of them
                drop_mapped_pages(self.matcher.mapped_files())
            before = _previous_manifest(out_dir / "matches")
            with atomic_dir(out_dir / "matches") as tmp:
                for direction, frame in frames.items():
                    self._write(direction, self.annotate(direction, frame) if self.annotate else frame, tmp, manifest,
                                before, out_dir / "matches")
                manifest.finished_at = utc_now()
                manifest.seconds = round(time.perf_counter() - t0, 2)
                atomic_write_text(tmp / "run_manifest.json", json.dumps(asdict(manifest), ensure_ascii=False, indent=2))
            unchanged_state = previous is not None and set(previous) == set(current) and all(
                same_state(previous[d], now) for d, now in current.items())
            if not unchanged_state:  # else every list was kept: the saved rows are this run's
                for direction, now in current.items():
                    now.rows = self._raw.get(direction, pd.DataFrame())
                state.write(params, current)  # what the next run reuses (a crash before it: the next run is a full one)
            finished = True
        finally:
            work.release(remove=finished)
        return manifest

    def _reusable(self, direction: Direction, now: DirectionState, previous: dict[Direction, DirectionState] | None,
                  manifest: RunManifest) -> tuple[pd.DataFrame, set[str]] | None:
        """The previous run's state of a direction when its unchanged queries can keep their rows (their
        fingerprints say which), else None (a full ranking of the direction), with a note saying which and why."""
        before = previous.get(direction) if previous is not None else None
        if before is None:
            return None
        if before.ranked_side != now.ranked_side:
            manifest.notes.append(
                f"{direction}: every list ranked again: the {direction.target.value}s ranked changed (BM25 idf and "
                "lengths, the z-normalised candidate pools and the held-patent floor depend on all of them)")
            return None
        manifest.mode = "incremental"
        return before.rows, unchanged(before.queries, now.queries)

    def _confident(self, direction: Direction, frame: pd.DataFrame, manifest: RunManifest) -> pd.DataFrame:
        """Leave out the pairs below the confidence model's threshold (unless `keep_unconfident`), noted in the
        manifest; directions without a confidence are returned as they are."""
        model = self.matcher.confidence
        if model is None or not model.has(direction.value) or frame.empty or "confidence" not in frame:
            return frame
        threshold = model.threshold(direction.value)
        low = frame["confidence"] < threshold
        manifest.unconfident[direction.value] = {"threshold": threshold, "below": int(low.sum()),
                                                 "left_out": 0 if self.keep_unconfident else int(low.sum())}
        if self.keep_unconfident:
            manifest.notes.append(f"{direction}: {int(low.sum()):,} pairs below the confidence threshold {threshold:.3f} "
                                  "kept (--keep-unconfident)")
            return frame
        manifest.notes.append(f"{direction}: {int(low.sum()):,} pairs below the confidence threshold {threshold:.3f} "
                              "left out (--keep-unconfident keeps them)")
        return frame[~low].reset_index(drop=True)

    def _write(self, direction: Direction, frame: pd.DataFrame, folder: Path, manifest: RunManifest,
               before: RunManifest | None, previous: Path) -> None:
        """One direction's export files in `folder`: Parquet holds the raw rows (a data file); CSV and XLSX are
        spreadsheet-safe (`matcher.export.sheets`). When the rows are the ones the previous run wrote (`before`,
        in `previous`) and its files are as it wrote them, those files are kept (linked) instead."""
        stem = export_stem(direction)
        manifest.rows[direction] = len(frame)
        digest = rows_digest(frame)
        manifest.digests[direction] = digest
        names = [f"{stem}.{fmt}" for fmt in self.formats if fmt != "xlsx" or len(frame) <= XLSX_MAX_ROWS]
        same = before is not None and before.digests.get(direction) == digest and set(names) <= set(before.files)
        kept = same and link_kept(previous, names, before.file_stats, folder)
        if kept:
            manifest.notes.append(f"{direction}: the same rows as the previous run: its files kept ({', '.join(names)})")
        for fmt in self.formats:
            path = folder / f"{stem}.{fmt}"
            if fmt == "xlsx" and len(frame) > XLSX_MAX_ROWS:
                manifest.notes.append(f"{stem}.xlsx skipped: {len(frame):,} rows exceed Excel's sheet limit")
                continue
            if kept:
                pass
            elif fmt == "csv":
                write_csv(frame, path)
            elif fmt == "parquet":
                frame.to_parquet(path, index=False)
            else:
                write_xlsx(frame, path, sheet=stem)
            manifest.files.append(path.name)
            manifest.file_stats[path.name] = file_stat(path)

    def _run_direction(self, direction: Direction, work: Path, manifest: RunManifest, show_progress: bool,
                       reuse: tuple[pd.DataFrame, set[str]] | None = None) -> pd.DataFrame:
        """One direction's rows: the parts stored by an interrupted run, the rows of the lists kept from the
        previous run (`reuse`: its rows and the query ids they stay valid for) and the chunks computed now."""
        source, target = direction.source, direction.target
        if not self.matcher.has(source) or not self.matcher.has(target):
            manifest.notes.append(f"{direction} skipped: the index has no {source.value if not self.matcher.has(source) else target.value}s")
            return pd.DataFrame()
        coll = self.matcher.get(source)
        ids = coll.ids
        texts = dict(zip(coll.records["id"], coll.records[CONTENT]))
        chunks = [ids[i : i + self.chunk_size] for i in range(0, len(ids), self.chunk_size)]
        manifest.chunks_total += len(chunks)
        stem = export_stem(direction)
        capped = direction in self.max_per_target
        left_out = self._exclude[direction]
        parts = [work / f"{stem}-{n:05d}.parquet" for n in range(len(chunks))]
        kept, keep = reuse if reuse is not None else (pd.DataFrame(), set())
        kept_spans = spans(kept) if keep else {}
        missing, recomputed = [], 0
        kept_only: set[int] = set()  # chunks whose every list is kept: assembled from `kept` when read, never stored
        for n, (chunk, part) in enumerate(zip(chunks, parts)):
            problem = part_problem(part) if part.exists() else None
            if problem == "":
                manifest.chunks_resumed += 1
                continue
            if problem:
                manifest.notes.append(f"{part.name} of an interrupted run was unreadable ({problem[:200]}); recomputed")
            todo = [i for i in chunk if i not in keep]
            if not todo:
                kept_only.add(n)
                continue
            recomputed += len(todo)
            # under a cap most deep candidates are dropped: they are explained once kept (`_explained`)
            missing.append(ChunkTask(direction.value, n, tuple(todo), self.depth if capped else self.k,
                                     self.filters.get(target.value), not capped,
                                     {i: left_out[i] for i in todo if i in left_out}))
        computed = self.executor.map(compute_chunk, missing)
        for task, rows in tqdm(computed, desc=direction, total=len(missing), disable=not show_progress):
            if keep:
                rows = assemble(chunks[task.number], rows, kept, kept_spans, keep)
            write_part(rows, parts[task.number])
        if reuse is not None:
            manifest.recomputed[direction.value] = recomputed
            manifest.notes.append(f"{direction}: incremental: {recomputed:,} of {len(ids):,} lists ranked again (new "
                                  "queries or changed ones), the others kept from the previous run")

        def part_rows(n: int) -> pd.DataFrame:
            if n in kept_only:
                return assemble(chunks[n], None, kept, kept_spans, keep)
            return pd.read_parquet(parts[n])

        cap = self.max_per_target.get(direction)
        if cap is None:
            if keep and len(kept_only) == len(chunks) and list(kept_spans) == list(ids):
                # every list kept, in the same order: the previous rows are this run's rows (2 million at 200,000
                # enterprises: assembling them chunk by chunk would hold a second copy)
                raw = kept
            else:
                frames = [f for f in map(part_rows, range(len(parts))) if len(f)]
                if not frames:
                    return pd.DataFrame()
                raw = pd.concat(frames, ignore_index=True)
            self._raw[direction] = raw
            frame = raw.copy(deep=False)  # the export's frame gains a column; the raw rows stay as they are
            frame.insert(frame.columns.get_loc("rank") + 1, "engine_rank", frame["rank"])
            return frame
        # the cap is decided on the pairs' keys alone, then each part keeps only its capped rows, so memory holds
        # the deep candidates' keys and the final rows, never every deep row with its explanation
        keys = [f[KEY_COLUMNS] for f in map(part_rows, range(len(parts))) if len(f)]
        if not keys:
            return pd.DataFrame()
        self._raw[direction] = pd.concat([f for f in map(part_rows, range(len(parts))) if len(f)], ignore_index=True)
        kept, stats = cap_exposure(pd.concat(keys, ignore_index=True), self.k, cap)
        kept = kept[["query_id", "engine_rank", "rank"]]
        frames = []
        for n in range(len(parts)):
            part = part_rows(n)
            if len(part):
                columns = [c for col in part.columns for c in ((col, "engine_rank") if col == "rank" else (col,))]
                # an inner merge keeps the part's order: queries as ranked, each query's rows by engine rank
                part = part.rename(columns={"rank": "engine_rank"}).merge(kept, on=["query_id", "engine_rank"])[columns]
                frames.append(self._explained(part, source, target, texts))
        frame = pd.concat(frames, ignore_index=True)
        manifest.exposure[direction] = asdict(stats)
        note = f"{direction}: at most {cap} lists per {target.value}: {stats.describe()}"
        n_targets = self.matcher.count(target)
        wanted, capacity = self.k * len(ids), cap * n_targets
        if capacity < wanted:
            note += (f"; a cap of {cap} over {n_targets:,} {target.value}s leaves room for {capacity:,} of the {wanted:,} "
                     f"slots: a cap of at least {-(-wanted // n_targets)} can fill every list")
        elif stats.short:
            note += "; rank deeper (depth) to fill them"
        manifest.notes.append(note)
        return frame

    def _explained(self, rows: pd.DataFrame, source: Kind, target: Kind, texts: Mapping[str, str]) -> pd.DataFrame:
        """Fill the explanation columns of export rows (grouped by query, as parts are) with `Matcher.explain`."""
        if rows.empty:
            return rows
        coll = self.matcher.get(target)
        groups = list(rows.groupby("query_id", sort=False))
        ordered = [t for _, group in groups for t in group["target_id"]]
        records = iter(coll.records.loc[coll.rows_of(ordered)].to_dict("records"))
        results = [
            SearchResult(Query(text=texts[qid], kind=source, id=qid), target,
                         [Match(rank=int(r), target_id=str(t), score=0.0, components={}, record=next(records))
                          for r, t in zip(group["rank"], group["target_id"])])
            for qid, group in groups
        ]
        self.matcher.explain(results)
        values = pd.DataFrame([explanation_values(m.explanation) for res in results for m in res.matches],
                              columns=EXPLANATION_COLUMNS, index=[i for _, group in groups for i in group.index])
        rows = rows.copy()
        rows[EXPLANATION_COLUMNS] = values.loc[rows.index]
        return rows
