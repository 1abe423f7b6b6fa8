"""Sector push lists: the nightly export split into one list per sector (GB/T 4754 门类) or per industry chain."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.export.sheets import write_csv
from matcher.index.atomic import atomic_dir
from matcher.office.sectors import UNLABELLED, sector_table
from matcher.office.workbook import write_workbook
from matcher.schema import RECORD_DIRECTIONS, Direction, Kind
from matcher.sectors import Chain

OFF_CHAIN = "不在重点产业链"
SHEETS = {Direction.PATENT_TO_ENTERPRISE: "专利→企业", Direction.ENTERPRISE_TO_PATENT: "企业→专利"}


def _read(folder: Path, direction: Direction) -> pd.DataFrame | None:
    for suffix, read in (("parquet", pd.read_parquet), ("csv", lambda p: pd.read_csv(p, dtype=str, encoding="utf-8-sig"))):
        path = folder / f"{direction.stem}.{suffix}"
        if path.is_file():
            try:
                return read(path)
            except (OSError, ValueError) as exc:
                raise MatcherError(f"cannot read the export {path} ({exc}): run `matcher match` again") from None
    return None


def file_stem(label: str) -> str:
    """A file name for a sector or chain label (characters file systems refuse replaced by _)."""
    return "".join("_" if c in '\\/:*?"<>|' or ord(c) < 32 else c for c in label).strip(" .") or "_"


def sector_lists(matches: str | Path, matcher: Matcher, *, index_dir: str | Path | None = None,
                 chains: Sequence[Chain] | None = None) -> dict[str, dict[Direction, pd.DataFrame]]:
    """The pairs of a nightly export grouped by the patent's sector, or by its chains when chains are given (a patent
    on two chains is in both lists; one on none is in 不在重点产业链).

    Args:
        matches: the export folder (`matcher match` writes OUT/matches).
        matcher: the engine whose index the export was made from (patent records for sectors).
        index_dir: the index folder (its grades table gives the patents' sectors when present).
        chains: industry chains (`matcher.sectors.load_chains`), or None to split by 门类.

    Returns:
        label -> direction -> rows (with `sector` or `chain` as the first column).

    Raises:
        MatcherError: the folder holds no export.
    """
    folder = Path(matches)
    frames = {d: f for d in RECORD_DIRECTIONS if (f := _read(folder, d)) is not None and len(f)}
    if not frames:
        raise MatcherError(f"no nightly export in {folder}: run `matcher match` first")
    ids = sorted({str(p) for d, f in frames.items()
                  for p in f["query_id" if d.source == Kind.PATENT else "target_id"].astype(str)})
    coll = matcher.collection(Kind.PATENT)
    records = coll.records.loc[coll.rows_of([i for i in ids if i in coll])]
    table = sector_table(records, Kind.PATENT, index_dir=index_dir, chains=chains).set_index("id")
    column = "chain" if chains else "sector"
    out: dict[str, dict[Direction, pd.DataFrame]] = {}
    for direction, frame in frames.items():
        pid = frame["query_id" if direction.source == Kind.PATENT else "target_id"].astype(str)
        if chains:
            labels = pid.map(lambda p: [c for c in str(table["chains"].get(p, "") or "").split("、") if c] or [OFF_CHAIN])
        else:
            labels = pid.map(lambda p: [table["section"].get(p, UNLABELLED) or UNLABELLED])
        exploded = frame.assign(**{column: labels}).explode(column)
        exploded = exploded[[column, *frame.columns]]
        for label, group in exploded.groupby(column, sort=True):
            out.setdefault(str(label), {})[direction] = group.reset_index(drop=True)
    return out


def write_sector_lists(out_dir: str | Path, lists: dict[str, dict[Direction, pd.DataFrame]], *, by: str = "门类",
                       run: str = "") -> Path:
    """Write one push list per label into `out_dir/by_sector` (swapped in whole): LABEL.xlsx (a cover sheet, then one
    sheet per direction) and LABEL.csv (both directions' rows).

    Args:
        out_dir: the export root.
        lists: `sector_lists` output.
        by: what the labels are (门类 or 产业链), for the cover.
        run: the run's key or time, for the cover.

    Returns:
        The folder written.
    """
    target = Path(out_dir) / "by_sector"
    with atomic_dir(target) as tmp:
        for label, directions in lists.items():
            stem = file_stem(label)
            counts = "；".join(f"{SHEETS[d]} {len(f)} 对" for d, f in directions.items())
            cover = [(by, label), ("夜间运行", run), ("推荐对数", counts),
                     ("说明", f"按专利所属{by}划分的推送清单（由 matcher match --by-sector 生成）；匹配分仅在同一清单内可比。")]
            write_workbook(tmp / f"{stem}.xlsx", f"{label} 推送清单", cover,
                           {SHEETS[d]: f for d, f in directions.items()})
            write_csv(pd.concat(list(directions.values()), ignore_index=True), tmp / f"{stem}.csv")
    return target
