"""Spreadsheet-safe CSV and XLSX writing: formula-like text cells neutralised, characters XLSX refuses removed."""

from __future__ import annotations

import codecs
import os
import re
from typing import IO

import pandas as pd

# OWASP CSV injection: a text cell starting with one of these is read as a formula (or a DDE payload) by
# Excel, LibreOffice and Google Sheets; a leading apostrophe makes it text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Control characters an XLSX file cannot hold (XML 1.0 forbids them; readers such as openpyxl refuse the file);
# \t \n \r stay.
XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CSV_BLOCK = 100_000  # rows made safe and written at a time


def _text_columns(frame: pd.DataFrame) -> list:
    return [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]


def spreadsheet_safe(frame: pd.DataFrame, *, xlsx: bool = False) -> pd.DataFrame:
    """A copy of the frame that spreadsheet programs open as plain data.

    Text cells starting with `=`, `+`, `-`, `@`, a tab or a carriage return get a leading apostrophe (numbers,
    a negative score included, stay numbers); for XLSX, control characters other than tab, newline and carriage
    return are removed as well.

    Args:
        frame: the rows to export (left unchanged).
        xlsx: also remove the characters an XLSX file cannot hold.

    Returns:
        The neutralised copy.
    """
    out = frame.copy()
    for col in _text_columns(out):
        values = out[col].astype(object)
        is_text = values.map(lambda v: isinstance(v, str))
        if not is_text.any():
            continue
        text = values[is_text]
        if xlsx:
            text = text.str.replace(XLSX_ILLEGAL, "", regex=True)
        risky = text.str.startswith(FORMULA_START)
        text = text.where(~risky, "'" + text)
        values[is_text] = text
        out[col] = values
    return out


def write_csv(frame: pd.DataFrame, target: str | os.PathLike | IO) -> None:
    """Write the frame as CSV (UTF-8 with BOM, so that Excel opens it as UTF-8; no index), formula-safe, with RFC 4180
    CRLF line ends: a cell holding a line break (\r included) is then always quoted, so it cannot start a new row.

    The rows are made safe and written `CSV_BLOCK` at a time (the same bytes as in one piece): the safe copy of the
    nightly job's 2 million enterprise -> patent rows took 3.5 GB at 200,000 registrations.

    Args:
        frame: the rows.
        target: a path or a binary file object.
    """
    if not isinstance(target, (str, os.PathLike)):
        _write_csv_blocks(frame, target)
        return
    with open(target, "wb") as fh:
        _write_csv_blocks(frame, fh)


def _write_csv_blocks(frame: pd.DataFrame, fh: IO) -> None:
    fh.write(codecs.BOM_UTF8)
    for start in range(0, max(len(frame), 1), CSV_BLOCK):
        spreadsheet_safe(frame.iloc[start : start + CSV_BLOCK]).to_csv(fh, header=start == 0, index=False,
                                                                       encoding="utf-8", lineterminator="\r\n")


def excel_writer(target: str | IO) -> pd.ExcelWriter:
    """An XLSX writer (XlsxWriter: about twice as fast as openpyxl on the nightly lists) that stores every text
    cell as text: never as a formula or a hyperlink, whatever it starts with.

    Args:
        target: a path or a binary file object.

    Returns:
        The writer, to use as a context manager.
    """
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    return pd.ExcelWriter(target, engine="xlsxwriter", engine_kwargs={"options": options})


def write_xlsx(frame: pd.DataFrame, target: str | IO, sheet: str = "Sheet1") -> None:
    """Write the frame as one XLSX sheet (no index), formula-safe (text cells neutralised as for CSV and stored as
    text).

    Args:
        frame: the rows.
        target: a path or a binary file object.
        sheet: the sheet name (cut to Excel's 31 characters).
    """
    with excel_writer(target) as writer:
        spreadsheet_safe(frame, xlsx=True).to_excel(writer, index=False, sheet_name=sheet[:31] or "Sheet1")
