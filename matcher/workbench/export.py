"""Export of the frame that is on screen to CSV (UTF-8 with BOM, opens in Excel) and XLSX bytes."""

from __future__ import annotations

import io

import pandas as pd

# Cells starting with these are formulas in spreadsheet programs (and openpyxl writes them as such).
_FORMULA_START = ("=", "+", "@")


def _safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with text cells that would be read as spreadsheet formulas prefixed by an apostrophe."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v)
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV bytes of the frame (header = the on-screen column names, no index)."""
    return _safe(frame).to_csv(index=False).encode("utf-8-sig")


def to_xlsx_bytes(frame: pd.DataFrame, sheet: str = "导出") -> bytes:
    """XLSX bytes of the frame (one sheet, header = the on-screen column names, no index)."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        _safe(frame).to_excel(writer, index=False, sheet_name=sheet[:31] or "Sheet1")
    return buf.getvalue()


CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
