"""The nightly batch's lists as the workbench shows them: the latest `matcher match` export, read back.

Officers work from the nightly lists (every patent's top enterprises, every enterprise's top patents, capped as
the operator chose); this module reads one export folder, joins the records' metadata from the current index,
counts how many lists each target is in, filters, and says how the run was made and whether the index changed
since. Nothing here touches Streamlit, so every table and line can be tested on its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from matcher.config import PROJECT_ROOT
from matcher.engine import Matcher
from matcher.errors import InputError
from matcher.export import RunManifest, export_stem
from matcher.schema import RECORD_DIRECTIONS, Direction, Kind
from matcher.tracking import Item, major_industry
from matcher.workbench.degree import export_degrees
from matcher.workbench.frames import clean, local_time

DEFAULT_EXPORT_DIR = PROJECT_ROOT / "exports" / "matches"
MANIFEST = "run_manifest.json"
DIRECTION_LABELS = {Direction.PATENT_TO_ENTERPRISE: "专利 → 企业（每个专利的企业清单）",
                    Direction.ENTERPRISE_TO_PATENT: "企业/需求 → 专利（每个企业/需求的专利清单）"}
# what the ranked side is called, by kind
KIND_LABELS = {Kind.ENTERPRISE: "企业/需求", Kind.PATENT: "专利"}


def target_label(direction: Direction | str) -> str:
    """What the ranked side of a direction is called ("企业/需求" or "专利")."""
    return KIND_LABELS[Direction(direction).target]
# the export's columns every table needs (the rest are optional: older runs lack engine_rank or activity)
REQUIRED = ("query_id", "query_name", "rank", "target_id", "target_name", "score")
BATCH_COLUMNS = [
    "排名", "引擎排名", "专利号", "专利名称", "企业/需求编号", "企业/需求名称", "匹配度", "专利活跃度", "互选排名", "共有关键词", "最相关专利句", "企业已持有相近专利", "申请人", "申请人类型", "专利行业", "专利地区",
    "许可方式", "成熟度", "价格", "分级", "产业化前景", "许可契合", "先免费后有偿", "企业行业", "企业地区", "企业规模", "注册资本",
    "出现清单数", "跟踪状态",
]
# the office's columns of the export (matcher.office.pair_columns; blank in runs written before them)
_OFFICE_EXPORT = {"分级": "patent_tier", "许可契合": "licence_fit", "先免费后有偿": "free_first"}
_PATENT_META = {"申请人": "applicant", "申请人类型": "applicant_type", "专利行业": "industry", "专利地区": "region",
                "许可方式": "license_mode", "成熟度": "maturity", "价格": "price"}
_ENTERPRISE_META = {"企业行业": "industry", "企业地区": "region", "企业规模": "size", "注册资本": "capital"}


def export_dir() -> Path:
    """The folder of the nightly export the workbench reads (env MATCHER_EXPORT_DIR, default exports/matches)."""
    return Path(os.environ.get("MATCHER_EXPORT_DIR") or DEFAULT_EXPORT_DIR).expanduser()


@dataclass
class BatchLists:
    """One finished batch run: its manifest and each direction's exported rows (as written)."""

    folder: Path
    manifest: RunManifest
    frames: dict[str, pd.DataFrame]


def load_batch(folder: str | Path) -> BatchLists | None:
    """Read the export of the last finished `matcher match` run in `folder`.

    Parquet is read where the run wrote it, else CSV (the exports are replaced atomically, so a run in progress
    is never read half-written).

    Returns:
        The run, or None when the folder holds no run manifest (no batch has finished there yet).

    Raises:
        InputError: the manifest or an export it lists cannot be read, or lacks a needed column.
    """
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        return None
    manifest = RunManifest.read(folder / MANIFEST)
    frames = {}
    for direction in manifest.directions:
        if direction not in RECORD_DIRECTIONS:
            raise InputError(f"unknown direction {direction!r} in 'directions'", file=str(folder / MANIFEST),
                             hint="run `matcher match` again to rewrite the exports")
        frames[direction] = _read_export(folder, export_stem(direction), manifest)
    return BatchLists(folder, manifest, frames)


def _read_export(folder: Path, stem: str, manifest: RunManifest) -> pd.DataFrame:
    listed = [f"{stem}.{fmt}" for fmt in ("parquet", "csv") if f"{stem}.{fmt}" in manifest.files]
    if not listed:
        raise InputError(f"the run lists no parquet or csv export for {stem} (files: {', '.join(manifest.files) or 'none'})",
                         file=str(folder / MANIFEST), hint="run `matcher match --formats csv,parquet` to write one")
    present = [folder / name for name in listed if (folder / name).is_file()]
    if not present:
        raise InputError(f"the export files the run lists are missing: {', '.join(listed)}", file=str(folder),
                         hint="run `matcher match` again to rewrite the exports")
    path = present[0]
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype={"query_id": str, "target_id": str}, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, ValueError) as exc:
        raise InputError(f"the export cannot be read ({exc})", file=str(path),
                         hint="run `matcher match` again to rewrite the exports") from exc
    if frame.empty and len(frame.columns) == 0:  # the run skipped this direction (its notes say why)
        return pd.DataFrame(columns=list(REQUIRED))
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(f"not a match export: no column {missing[0]!r}", file=str(path), column=missing[0],
                         hint="run `matcher match` again to rewrite the exports")
    return frame


def pair_table(batch: BatchLists, direction: Direction | str, patents: pd.DataFrame | None = None,
               enterprises: pd.DataFrame | None = None, matcher: Matcher | None = None) -> pd.DataFrame:
    """One direction's pairs as the workbench shows and exports them (Chinese headers, BATCH_COLUMNS).

    Args:
        batch: the loaded run.
        direction: Direction.PATENT_TO_ENTERPRISE or Direction.ENTERPRISE_TO_PATENT (or its value).
        patents, enterprises: the index's records, for the metadata of both sides (the export carries only the
            target's); ids no longer in the index keep the export's own target columns or stay blank.
        matcher: the current engine, for the 匹配度 of a run written without a confidence model
            (`matcher.workbench.degree.export_degrees`).

    Returns:
        One row per exported pair in the run's order; 出现清单数 is how many of the run's lists in this
        direction hold the pair's target; 跟踪状态 is blank (`mark_tracked` fills it).
    """
    frame = batch.frames[direction]
    if frame.empty:
        return pd.DataFrame(columns=BATCH_COLUMNS)
    patent_side = "target" if Direction(direction).target == Kind.PATENT else "query"
    enterprise_side = "query" if patent_side == "target" else "target"
    out = pd.DataFrame({
        "排名": frame["rank"].astype(int),
        "引擎排名": frame["engine_rank"].astype(int) if "engine_rank" in frame else frame["rank"].astype(int),
        "专利号": _texts(frame, f"{patent_side}_id"),
        "专利名称": _texts(frame, f"{patent_side}_name"),
        "企业/需求编号": _texts(frame, f"{enterprise_side}_id"),
        "企业/需求名称": _texts(frame, f"{enterprise_side}_name"),
        "匹配度": export_degrees(frame, direction, matcher).to_numpy(),
    })
    activity = _numbers(frame, "activity").round(3)
    out["专利活跃度"] = activity.astype(object).where(activity.notna(), "")
    ranks = _numbers(frame, "reciprocal_rank")  # older runs have no such column
    out["互选排名"] = [int(r) if r == r else "" for r in ranks]
    out["共有关键词"] = _texts(frame, "shared_terms")
    out["最相关专利句"] = _texts(frame, "closest_sentence")
    out["企业已持有相近专利"] = _texts(frame, "held_patent")
    for label, column in _OFFICE_EXPORT.items():
        out[label] = _texts(frame, column).to_numpy()
    prospect = _numbers(frame, "patent_prospect").round(0)
    out["产业化前景"] = [int(p) if p == p else "" for p in prospect]
    _add_meta(out, "专利号", _PATENT_META, patents, frame, "target_" if patent_side == "target" else None)
    _add_meta(out, "企业/需求编号", _ENTERPRISE_META, enterprises, frame, "target_" if enterprise_side == "target" else None)
    out["出现清单数"] = frame.groupby("target_id")["query_id"].transform("nunique").astype(int).to_numpy()
    out["跟踪状态"] = ""
    return out[BATCH_COLUMNS].reset_index(drop=True)


def _texts(frame: pd.DataFrame, column: str) -> pd.Series:
    """An export column as text ("" where blank, or everywhere when an older run did not write it)."""
    if column not in frame:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[column].astype(object).where(frame[column].notna(), "").astype(str)


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    """A numeric export column (NaN where blank, or everywhere when an older run did not write it)."""
    if column not in frame:
        return pd.Series(float("nan"), index=frame.index)
    return pd.to_numeric(frame[column], errors="coerce")


def mark_tracked(table: pd.DataFrame, tracked: Mapping[tuple[str, str], Item]) -> pd.DataFrame:
    """A copy of `pair_table` output whose 跟踪状态 is each pair's shortlist status (blank: not on the shortlist)."""
    out = table.copy()
    out["跟踪状态"] = [tracked[key].status if key in tracked else "" for key in zip(out["专利号"], out["企业/需求编号"])]
    return out


def _add_meta(out: pd.DataFrame, id_column: str, wanted: Mapping[str, str], records: pd.DataFrame | None,
              export: pd.DataFrame, export_prefix: str | None) -> None:
    """Metadata columns of one side: from the index's records, else from the export's target columns."""
    by_id = None
    if records is not None and len(records):
        by_id = records.assign(id=records["id"].astype(str)).drop_duplicates("id").set_index("id")
    for label, column in wanted.items():
        values = pd.Series("", index=out.index, dtype=object)
        if by_id is not None and column in by_id:
            values = out[id_column].map(by_id[column].map(clean)).fillna("")
        if export_prefix and f"{export_prefix}{column}" in export:
            values = values.where(values != "", export[f"{export_prefix}{column}"].map(clean).to_numpy())
        out[label] = values.to_numpy()


@dataclass
class BatchFilter:
    """The officer's filters over one direction's table (empty selections mean no filter)."""

    needle: str = ""
    max_rank: int | None = None
    patent_industries: Sequence[str] = ()
    applicant_types: Sequence[str] = ()
    enterprise_regions: Sequence[str] = ()
    tiers: Sequence[str] = ()
    licence_fits: Sequence[str] = ()
    hide_tracked: bool = False


def filter_pairs(table: pd.DataFrame, f: BatchFilter) -> pd.DataFrame:
    """The rows of `pair_table` that pass the filters, in the same order."""
    keep = pd.Series(True, index=table.index)
    needle = f.needle.strip().lower()
    if needle:
        hay = (table["专利号"] + " " + table["专利名称"] + " " + table["企业/需求编号"] + " " + table["企业/需求名称"]).str.lower()
        keep &= hay.str.contains(needle, regex=False)
    if f.max_rank is not None:
        keep &= table["排名"] <= f.max_rank
    if f.patent_industries:
        keep &= table["专利行业"].map(major_industry).isin(list(f.patent_industries))
    if f.applicant_types:
        keep &= table["申请人类型"].isin(list(f.applicant_types))
    if f.enterprise_regions:
        keep &= table["企业地区"].isin(list(f.enterprise_regions))
    if f.tiers:
        keep &= table["分级"].isin(list(f.tiers))
    if f.licence_fits:
        keep &= table["许可契合"].isin(list(f.licence_fits))
    if f.hide_tracked:
        keep &= table["跟踪状态"] == ""
    return table[keep]


def cap_per_target(table: pd.DataFrame, direction: Direction | str, most: int | None) -> pd.DataFrame:
    """The rows of a (filtered) table with each target in at most `most` lists: a target keeps the lists where it
    ranks best (then the higher 匹配度), as `matcher match --max-per-enterprise / --max-per-patent` caps a run, except
    that the freed places are not refilled from deeper candidates.

    Args:
        table: `pair_table` rows (filtered or not), in the run's order.
        direction: the table's direction.
        most: the most lists one target is shown in (None or 0: no cap).

    Returns:
        The kept rows, in the same order.
    """
    if not most or table.empty:
        return table
    target = id_columns(direction)[1]
    order = table.sort_values(["排名", "匹配度"], ascending=[True, False], kind="stable")
    kept = order.groupby(target, sort=False).cumcount() < most
    return table.loc[table.index.isin(order.index[kept.to_numpy()])]


def id_columns(direction: Direction | str) -> tuple[str, str]:
    """The `pair_table` columns of (the list's owner id, the target id) in one direction."""
    return ("专利号", "企业/需求编号") if direction == Direction.PATENT_TO_ENTERPRISE else ("企业/需求编号", "专利号")


def most_listed(table: pd.DataFrame, direction: Direction | str, n: int = 15) -> pd.DataFrame:
    """The targets in the most lists: columns 名称, 编号, 出现清单数 (most first, ties by id)."""
    ids = id_columns(direction)[1]
    names = {"企业/需求编号": "企业/需求名称", "专利号": "专利名称"}[ids]
    if table.empty:
        return pd.DataFrame(columns=["名称", "编号", "出现清单数"])
    top = table.drop_duplicates(ids)[[names, ids, "出现清单数"]].rename(columns={names: "名称", ids: "编号"})
    return top.sort_values(["出现清单数", "编号"], ascending=[False, True]).head(n).reset_index(drop=True)


def run_summary(manifest: RunManifest) -> list[str]:
    """How the run was made, in the officers' words (one line each)."""
    finished = local_time(pd.Timestamp(manifest.finished_at).tz_convert(None)) if manifest.finished_at else "未完成"
    took = f"{manifest.seconds / 60:.1f} 分钟" if manifest.seconds >= 60 else f"{manifest.seconds:.0f} 秒"
    lines = [f"生成时间：{finished}（北京时间），用时 {took}；每个清单取前 {manifest.k} 名"]
    sizes = []
    for kind, label in ((Kind.PATENT, "专利"), (Kind.ENTERPRISE, "企业/需求")):
        info = manifest.index.get(kind.value)
        if info:
            sizes.append(f"{label} {int(info.get('rows', 0)):,} 条")
    if sizes:
        lines.append("索引：" + "，".join(sizes))
    if manifest.excluded_pairs:
        lines.append(f"已排除推送清单中已有的 {manifest.excluded_pairs:,} 对，清单只含尚未处理的组合")
    for direction in manifest.directions:
        rows = manifest.rows.get(direction, 0)
        line = f"{DIRECTION_LABELS.get(direction, direction)}：{rows:,} 对"
        cap = manifest.max_per_target.get(direction)
        if cap:
            line += f"；每个{target_label(direction)}最多出现在 {cap} 个清单中"
            stats = manifest.exposure.get(direction)
            if stats:
                line += (f"（封顶前单个{target_label(direction)}最多出现在 {stats['max_lists_before']:,} 个清单中；"
                         f"改派 {stats['moved']:,} 个名额，{stats['short']:,} 个清单不足 {manifest.k} 名）")
        else:
            line += "；未设出现次数上限"
        lines.append(line)
    return lines


def stale_reasons(manifest: RunManifest, current: Mapping[str, Mapping]) -> list[str]:
    """What changed in the index since the run (empty: the lists match the index the workbench searches).

    Args:
        manifest: the run's manifest.
        current: `matcher.export.index_info` of the index now.
    """
    reasons = []
    for kind, label in ((Kind.PATENT, "专利"), (Kind.ENTERPRISE, "企业/需求")):
        then, now = manifest.index.get(kind.value), current.get(kind.value)
        if not then and not now:
            continue
        if not then or not now:
            reasons.append(f"{label}索引{'已新建' if now else '已删除'}")
            continue
        if int(then.get("rows", 0)) != int(now.get("rows", 0)):
            reasons.append(f"{label} {int(then.get('rows', 0)):,} 条 → {int(now.get('rows', 0)):,} 条")
        elif then.get("data_hash") and now.get("data_hash") and then["data_hash"] != now["data_hash"]:
            reasons.append(f"{label}记录已更新")
        if then.get("model_id") != now.get("model_id"):
            reasons.append(f"{label}编码模型 {then.get('model_id')} → {now.get('model_id')}")
    return reasons
