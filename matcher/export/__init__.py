"""Nightly batch matching: top-k in both directions, written as CSV, Parquet and XLSX, atomically and resumably."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from matcher import __version__
from matcher.engine import Match, Matcher, Query, SearchResult
from matcher.errors import InputError
from matcher.explain import Explanation
from matcher.export.sheets import write_csv, write_xlsx
from matcher.export.workdir import WorkDir, part_problem, write_part
from matcher.index.collection import CONTENT
from matcher.index.atomic import atomic_dir, atomic_write_text
from matcher.index.manifest import utc_now
from matcher.rank.exposure import KEY_COLUMNS, cap_exposure
from matcher.rank.reciprocal import list_rank
from matcher.schema import RECORD_DIRECTIONS, Direction, Kind

FORMATS = ("csv", "parquet", "xlsx")
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, minus the header
# the per-pair columns written before the target's metadata columns (part of the run key: parts written
# with other columns are never resumed)
EXPORT_COLUMNS = ["direction", "query_id", "query_name", "rank", "target_id", "target_name", "score", "dense", "bm25",
                  "items", "portfolio", "activity", "reciprocal_rank", "confidence", "shared_terms", "closest_sentence", "sentence_similarity", "held_patent",
                  "held_similarity"]
_NAME_COL = {Kind.PATENT: "title", Kind.ENTERPRISE: "name"}
_META = {
    Kind.PATENT: ("applicant", "applicant_type", "industry", "region", "license_mode", "maturity", "price", "inventor",
                  "contact", "phone", "email"),
    Kind.ENTERPRISE: ("industry", "region", "size", "capital", "cooperation", "budget", "contact", "phone", "email"),
}


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
    notes: list[str] = field(default_factory=list)

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


def export_stem(direction: Direction | str) -> str:
    """The file name stem of one direction's export ("enterprise->patent" -> "enterprise_to_patent")."""
    return Direction(direction).stem


_EXPLANATION_COLUMNS = EXPORT_COLUMNS[-5:]


def _explanation_values(exp: Explanation | None) -> list:
    """The export's explanation columns (shared_terms ... held_similarity) of one match."""
    if exp is None:
        return ["", "", 0.0, "", 0.0]
    return ["、".join(exp.shared_terms), exp.closest_sentence, round(exp.sentence_similarity, 6), exp.held_patent,
            round(exp.held_similarity, 6)]


def result_rows(direction: Direction | str, results: Sequence[SearchResult], names: Mapping[str, str]) -> list[dict]:
    """Flatten search results into export rows (one per pair).

    Args:
        direction: Direction.ENTERPRISE_TO_PATENT or Direction.PATENT_TO_ENTERPRISE (or its value).
        results: the ranked matches of each query.
        names: query id -> display name of the query record.

    Returns:
        Rows with the query, the match, its component scores and its explanation.
    """
    direction = Direction(direction).value
    rows = []
    for res in results:
        target = res.target
        for m in res.matches:
            values = [
                direction, res.query.id, names.get(res.query.id, ""), m.rank, m.target_id,
                m.record.get(_NAME_COL[target], ""), round(m.score, 6), round(m.components.get("dense", 0.0), 6),
                round(m.components.get("bm25", 0.0), 6), round(m.components.get("items", 0.0), 6),
                round(m.components.get("portfolio", 0.0), 6),
                round(m.components.get("activity", math.nan), 6),  # blank without an activity model / for a demand
                list_rank(m.components.get("reciprocal")),  # blank unless weighted and the pair is mutual
                math.nan if m.confidence is None else m.confidence,  # blank without a confidence model / towards enterprises
                *_explanation_values(m.explanation),
            ]
            row = dict(zip(EXPORT_COLUMNS, values, strict=True))
            for col in _META[target]:
                row[f"target_{col}"] = m.record.get(col, "")
            rows.append(row)
    return rows


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
        self.filters = {str(kind): dict(f) for kind, f in (filters or {}).items()}
        self.formats = tuple(formats)
        self.directions = [Direction(d) for d in directions if d in RECORD_DIRECTIONS]
        self.max_per_target = {Direction(d): int(c) for d, c in caps.items() if d in self.directions}
        self.depth = depth or 10 * k
        self.keep_unconfident = keep_unconfident
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
            frames: dict[Direction, pd.DataFrame] = {}
            for direction in self.directions:
                frames[direction] = self._confident(direction, self._run_direction(direction, work.path, manifest,
                                                                                   show_progress), manifest)
            with atomic_dir(out_dir / "matches") as tmp:
                for direction, frame in frames.items():
                    self._write(direction, frame, tmp, manifest)
                manifest.finished_at = utc_now()
                manifest.seconds = round(time.perf_counter() - t0, 2)
                atomic_write_text(tmp / "run_manifest.json", json.dumps(asdict(manifest), ensure_ascii=False, indent=2))
            finished = True
        finally:
            work.release(remove=finished)
        return manifest

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

    def _write(self, direction: Direction, frame: pd.DataFrame, folder: Path, manifest: RunManifest) -> None:
        """One direction's export files in `folder`: Parquet holds the raw rows (a data file); CSV and XLSX are
        spreadsheet-safe (`matcher.export.sheets`)."""
        stem = export_stem(direction)
        manifest.rows[direction] = len(frame)
        for fmt in self.formats:
            path = folder / f"{stem}.{fmt}"
            if fmt == "csv":
                write_csv(frame, path)
            elif fmt == "parquet":
                frame.to_parquet(path, index=False)
            elif len(frame) > XLSX_MAX_ROWS:
                manifest.notes.append(f"{stem}.xlsx skipped: {len(frame):,} rows exceed Excel's sheet limit")
                continue
            else:
                write_xlsx(frame, path, sheet=stem)
            manifest.files.append(path.name)

    def _run_direction(self, direction: Direction, work: Path, manifest: RunManifest, show_progress: bool) -> pd.DataFrame:
        source, target = direction.source, direction.target
        if not self.matcher.has(source) or not self.matcher.has(target):
            manifest.notes.append(f"{direction} skipped: the index has no {source.value if not self.matcher.has(source) else target.value}s")
            return pd.DataFrame()
        coll = self.matcher.get(source)
        ids = coll.ids
        names = dict(zip(coll.records["id"], coll.records[_NAME_COL[source]]))
        texts = dict(zip(coll.records["id"], coll.records[CONTENT]))
        chunks = [ids[i : i + self.chunk_size] for i in range(0, len(ids), self.chunk_size)]
        manifest.chunks_total += len(chunks)
        stem = export_stem(direction)
        parts = []
        capped = direction in self.max_per_target
        left_out = self._exclude[direction]
        for n, chunk in enumerate(tqdm(chunks, desc=direction, disable=not show_progress)):
            part = work / f"{stem}-{n:05d}.parquet"
            problem = part_problem(part) if part.exists() else None
            if problem == "":
                manifest.chunks_resumed += 1
            else:
                if problem:
                    manifest.notes.append(f"{part.name} of an interrupted run was unreadable ({problem[:200]}); recomputed")
                queries = [Query(text=texts[i], kind=source, id=i, exclude=left_out.get(i, ())) for i in chunk]
                # under a cap most deep candidates are dropped: they are explained once kept (`_explained`)
                results = self.matcher.search(queries, target, k=self.depth if capped else self.k,
                                              filters=self.filters.get(target.value), explain=not capped)
                write_part(pd.DataFrame(result_rows(direction, results, names)), part)
            parts.append(part)
        cap = self.max_per_target.get(direction)
        if cap is None:
            frames = [f for f in (pd.read_parquet(p) for p in parts) if len(f)]
            if not frames:
                return pd.DataFrame()
            frame = pd.concat(frames, ignore_index=True)
            frame.insert(frame.columns.get_loc("rank") + 1, "engine_rank", frame["rank"])
            return frame
        # the cap is decided on the pairs' keys alone, then each part keeps only its capped rows, so memory holds
        # the deep candidates' keys and the final rows, never every deep row with its explanation
        keys = [f[KEY_COLUMNS] for f in (pd.read_parquet(p) for p in parts) if len(f)]
        if not keys:
            return pd.DataFrame()
        kept, stats = cap_exposure(pd.concat(keys, ignore_index=True), self.k, cap)
        kept = kept[["query_id", "engine_rank", "rank"]]
        frames = []
        for p in parts:
            part = pd.read_parquet(p)
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
        values = pd.DataFrame([_explanation_values(m.explanation) for res in results for m in res.matches],
                              columns=_EXPLANATION_COLUMNS, index=[i for _, group in groups for i in group.index])
        rows = rows.copy()
        rows[_EXPLANATION_COLUMNS] = values.loc[rows.index]
        return rows
