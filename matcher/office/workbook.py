"""XLSX workbooks an officer can send: a cover sheet (what, for whom, when, how read) before the data sheets."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

import pandas as pd

from matcher.export.sheets import excel_writer, spreadsheet_safe, write_csv

_BAD_SHEET = re.compile(r"[\[\]:*?/\\]")
SIMULATED = "模拟数据（由模拟器生成，非真实反馈）"


def officer_table(frame: pd.DataFrame, headers: Mapping[str, str]) -> pd.DataFrame:
    """A table as officers read it: only the columns `headers` names (so no raw engine score, only 匹配度), in the
    frame's order, with their Chinese headers."""
    return frame[[c for c in frame.columns if c in headers]].rename(columns=headers)


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name: the characters Excel refuses removed, at most 31 characters.

    Args:
        name: the wanted name (e.g. a sector).
        taken: names already used (the new name is added).

    Returns:
        The sheet name.
    """
    base = (_BAD_SHEET.sub("", str(name)).strip("'").strip() or "Sheet")[:31]
    out, n = base, 2
    while out in taken:
        suffix = f"~{n}"
        out, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(out)
    return out


def cover_frame(title: str, lines: Sequence[tuple[str, object]]) -> pd.DataFrame:
    """The cover sheet's rows: the title, the date it was made, then (item, value) lines.

    Args:
        title: what the workbook is (e.g. 专利需求信息目录).
        lines: (label, value) pairs shown in order.

    Returns:
        A two-column frame (项目, 内容).
    """
    made = datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M")
    rows = [("标题", title), ("生成时间", made), *((str(k), "" if v is None else str(v)) for k, v in lines)]
    return pd.DataFrame(rows, columns=["项目", "内容"])


def write_workbook(target: str | Path | IO, title: str, cover: Sequence[tuple[str, object]],
                   sheets: Mapping[str, pd.DataFrame]) -> None:
    """Write a workbook: the cover sheet 封面, then one sheet per entry of `sheets` (spreadsheet-safe cells).

    Args:
        target: a path or a binary file object.
        title: the cover's title.
        cover: the cover's (label, value) lines.
        sheets: sheet name -> rows (names made valid and unique; an empty frame keeps its header).
    """
    taken = {"封面"}
    with excel_writer(target) as writer:
        spreadsheet_safe(cover_frame(title, cover), xlsx=True).to_excel(writer, index=False, sheet_name="封面")
        writer.sheets["封面"].set_column(0, 0, 16)
        writer.sheets["封面"].set_column(1, 1, 90)
        for name, frame in sheets.items():
            sheet = sheet_name(name, taken)
            spreadsheet_safe(frame, xlsx=True).to_excel(writer, index=False, sheet_name=sheet)


def write_outputs(folder: str | Path, stem: str, title: str, cover: Sequence[tuple[str, object]],
                  sheets: Mapping[str, pd.DataFrame], csv_frame: pd.DataFrame) -> list[Path]:
    """Write `stem.xlsx` (cover + sheets) and `stem.csv` (the flat rows) into `folder`, each through a temporary
    file renamed into place, so a failed write leaves the previous file whole.

    Args:
        folder: the output folder (created).
        stem: the file name stem.
        title: the cover's title.
        cover: the cover's lines.
        sheets: the XLSX data sheets.
        csv_frame: the rows of the CSV file.

    Returns:
        The two paths written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, write in (("xlsx", lambda p: write_workbook(p, title, cover, sheets)),
                          ("csv", lambda p: write_csv(csv_frame, p))):
        final = folder / f"{stem}.{suffix}"
        tmp = folder / f".{stem}.{suffix}.tmp"
        write(tmp)
        tmp.replace(final)
        paths.append(final)
    return paths
