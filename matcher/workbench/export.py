"""Export of the frame that is on screen to CSV (UTF-8 with BOM, opens in Excel) and XLSX bytes."""

from __future__ import annotations

import io

import pandas as pd

from matcher.export.sheets import write_csv, write_xlsx


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV bytes of the frame (header = the on-screen column names, no index; formula-like cells neutralised)."""
    buf = io.BytesIO()
    write_csv(frame, buf)
    return buf.getvalue()


def to_xlsx_bytes(frame: pd.DataFrame, sheet: str = "导出") -> bytes:
    """XLSX bytes of the frame (one sheet, header = the on-screen column names, no index; formula-like cells
    neutralised, characters XLSX refuses removed)."""
    buf = io.BytesIO()
    write_xlsx(frame, buf, sheet)
    return buf.getvalue()


CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
