"""Read CSV / TSV / XLSX / JSONL / JSON / Parquet tables into all-string DataFrames with clear errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from matcher.errors import InputError

# Encodings tried, in order, when the caller gives none: UTF-8 (with or without BOM), then GB18030
# (a superset of GBK / GB2312, the usual encoding of CSV files saved by Chinese Excel).
AUTO_ENCODINGS = ("utf-8-sig", "gb18030")
# A UTF-16 byte-order mark (Excel's "Unicode text" export) picks UTF-16 before those are tried.
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

# Column separators recognised in .csv / .tsv files, in order of preference when several fit equally well.
DELIMITERS = (",", "\t", ";", "|")
DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "vertical bar"}
SNIFF_CHARS = 65_536
SNIFF_LINES = 50

# JSON integers stay as written (ids of any length; Python refuses int() of more than 4,300 digits) and raw
# control characters inside strings are accepted (ingest cleaning removes them).
JSON_OPTIONS: dict[str, Any] = {"parse_int": str, "strict": False}
# What a JSON value is, by its first character (numbers are parsed as strings, so the type cannot tell).
JSON_KINDS = {"[": "array", '"': "string", "t": "boolean", "f": "boolean", "n": "null"}
# A JSON escape of a UTF-16 surrogate: only through one can a decoded file hold a lone surrogate, which pandas'
# string columns cannot store; those become U+FFFD.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
SURROGATE = re.compile("[\ud800-\udfff]")

ENCODING_HINT = "re-save the file as UTF-8 (Excel: 'CSV UTF-8') or pass --encoding <codec> (e.g. --encoding gbk)"

SUPPORTED = ".csv, .tsv, .xlsx, .xlsm, .jsonl, .ndjson, .json, .parquet"


def read_table(path: str | Path, *, sheet: str | int | None = None, encoding: str | None = None) -> pd.DataFrame:
    """Read a table file into a DataFrame whose cells are all strings.

    The format is chosen by the file extension. Missing cells become "", header names are stripped.

    Args:
        path: the file to read (.csv, .tsv, .xlsx, .xlsm, .jsonl, .ndjson, .json, .parquet).
        sheet: XLSX only: the sheet name or 0-based index; the first sheet when None.
        encoding: CSV / TSV / JSON only: the text encoding; when None, UTF-16 when the file starts with its
            byte-order mark, else UTF-8 (with or without BOM) then GB18030 (which covers GBK) are tried.

    Returns:
        The table, one row per record, every cell a string, with a default RangeIndex.

    Raises:
        InputError: the file is missing, empty, of an unknown type, undecodable or corrupt.
    """
    path = Path(path)
    file = str(path)
    reader = _reader_for(path)
    if not path.exists():
        raise InputError("file not found", file=file, hint="check the path and the current directory")
    if not path.is_file():
        raise InputError("not a file (is it a directory?)", file=file, hint="give the path of a table file")
    if path.stat().st_size == 0:
        raise InputError("the file is empty", file=file, hint="export the table again with a header row and data")
    try:
        return _finish(reader(path, sheet=sheet, encoding=encoding), file)
    except RecursionError as exc:  # JSON nested thousands of levels deep
        raise InputError("a value is nested too deeply to read", file=file,
                         hint="flatten the nested values: each cell should hold a text or a number") from exc


def as_str_series(series: pd.Series) -> pd.Series:
    """Convert a column to strings: missing values become "", integral floats lose their ".0".

    Args:
        series: any pandas Series.

    Returns:
        A Series of Python strings with the same index; lone surrogates (possible only in Python objects, which
        pandas' string columns cannot store) become U+FFFD.
    """
    if _is_plain_string(series):
        strings = series.fillna("")
    else:  # a list, not Series.map, which would build a string column before the surrogates are handled
        strings = pd.Series([cell_to_str(value) for value in series.astype(object)], index=series.index, dtype=object)
    try:
        return strings.astype(str)
    except UnicodeEncodeError:
        fixed = [SURROGATE.sub("\ufffd", text) for text in strings.astype(object)]
        return pd.Series(fixed, index=series.index, dtype=object).astype(str)


def cell_to_str(value: Any) -> str:
    """Render one cell as a string ("" for missing values, JSON for nested lists / dicts).

    Args:
        value: a cell value of any type.

    Returns:
        The string form of the value.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if hasattr(value, "tolist") and not isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return cell_to_str(value.tolist())  # numpy scalars and arrays
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        if pd.isna(value):
            return ""
        is_midnight = value.hour == value.minute == value.second == value.microsecond == 0
        return value.date().isoformat() if is_midnight else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is pd.NA or value is pd.NaT:
        return ""
    return str(value)


def _is_plain_string(series: pd.Series) -> bool:
    """Tell whether a Series holds only strings and missing values (the fast conversion path)."""
    if isinstance(series.dtype, pd.StringDtype):
        return True
    if series.dtype != object:
        return False
    present = series.dropna()
    return bool(present.map(type).eq(str).all())


def _reader_for(path: Path) -> Callable[..., pd.DataFrame]:
    """Pick the reader for a file extension, or raise an InputError naming the supported ones."""
    suffix = path.suffix.lower()
    readers: dict[str, Callable[..., pd.DataFrame]] = {
        ".csv": _read_csv,
        ".tsv": _read_csv,
        ".xlsx": _read_xlsx,
        ".xlsm": _read_xlsx,
        ".jsonl": _read_jsonl,
        ".ndjson": _read_jsonl,
        ".json": _read_json,
        ".parquet": _read_parquet,
        ".pq": _read_parquet,
    }
    if suffix in readers:
        return readers[suffix]
    if suffix == ".xls":
        hint = "open it in Excel or WPS and save it as .xlsx (the old .xls format is not supported)"
    else:
        hint = f"convert it to one of {SUPPORTED}"
    raise InputError(f"unsupported file type '{suffix or '(none)'}'", file=str(path), hint=hint)


def _finish(frame: pd.DataFrame, file: str) -> pd.DataFrame:
    """Strip header names, reject header-less tables and duplicate headers, and make every cell a string."""
    if len(frame.columns) == 0:
        raise InputError("the file has no header row / no columns", file=file,
                         hint="export the table again with a header row and data")
    headers = [cell_to_str(c).strip() for c in frame.columns]
    seen: set[str] = set()
    for header in headers:
        if header in seen:
            raise InputError(f"header '{header}' appears more than once", file=file, column=header,
                             hint="give every column a distinct header name")
        seen.add(header)
    frame = frame.copy()
    frame.columns = headers
    for column in headers:
        frame[column] = as_str_series(frame[column])
    return frame.reset_index(drop=True)


def _decode(data: bytes, file: str, encoding: str | None) -> str:
    """Decode file bytes with the given encoding, or with UTF-8 then GB18030.

    Raises:
        InputError: naming the line and byte offset of the first undecodable byte.
    """
    if encoding:
        candidates: tuple[str, ...] = (encoding,)
    elif data.startswith(UTF16_BOMS):
        candidates = ("utf-16",)
    else:
        candidates = AUTO_ENCODINGS
    first_error: UnicodeDecodeError | None = None
    for codec in candidates:
        try:
            return data.decode(codec).removeprefix("\ufeff")
        except LookupError as exc:
            raise InputError(f"unknown encoding '{codec}'", file=file,
                             hint="use a Python codec name such as utf-8, gbk, gb18030 or big5") from exc
        except UnicodeDecodeError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise _decode_error(data, file, candidates, first_error) from first_error


def _decode_error(data: bytes, file: str, codecs: tuple[str, ...], exc: UnicodeDecodeError) -> InputError:
    """Build the InputError for undecodable bytes, pointing at the line and byte offset."""
    offset = exc.start
    line = data.count(b"\n", 0, offset) + 1
    bad = data[offset:offset + 4].hex(" ")
    names = " or ".join(c.upper().replace("-SIG", "") for c in codecs)
    message = (f"cannot decode the text as {names}: bad byte(s) {bad} at line {line} "
               f"(line 1 is the header), byte offset {offset}")
    return InputError(message, file=file, hint=ENCODING_HINT)


def _read_text(path: Path, encoding: str | None) -> str:
    """Read and decode a text file, rejecting files with nothing but whitespace."""
    text = _decode(path.read_bytes(), str(path), encoding)
    if not text.strip():
        raise InputError("the file is empty", file=str(path), hint="export the table again with a header row and data")
    return text


def _read_csv(path: Path, *, sheet: str | int | None, encoding: str | None) -> pd.DataFrame:
    """Read a delimited file (separator detected: comma, tab, semicolon or |) with every cell as a string."""
    del sheet
    text = _read_text(path, encoding)
    sep = detect_delimiter(text, default="\t" if path.suffix.lower() == ".tsv" else ",")
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise _csv_parse_error(path, exc, sep) from exc


def detect_delimiter(text: str, default: str = ",") -> str:
    """Pick the column separator of delimited text: the one that splits the header into most columns.

    Each of DELIMITERS is tried on the first SNIFF_LINES lines (quotes respected). A separator counts only
    when it splits the header into two or more columns; among those the one for which most lines have the
    header's number of fields wins, then the one giving more columns, then the order of DELIMITERS.

    Args:
        text: the decoded file.
        default: the separator used when none splits the header (a one-column file).

    Returns:
        One of DELIMITERS, or `default`.
    """
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS and "\n" in sample:
        sample = sample[:sample.rindex("\n")]
    best, best_score = default, (0.0, 1, 0)
    preference = (default, *(d for d in DELIMITERS if d != default))
    for rank, sep in enumerate(preference):
        widths = _field_counts(sample, sep)
        if not widths or widths[0] < 2:
            continue
        fit = sum(width == widths[0] for width in widths) / len(widths)
        score = (fit, widths[0], -rank)
        if score > best_score:
            best, best_score = sep, score
    return best


def _field_counts(sample: str, sep: str) -> list[int]:
    """The number of fields of each of the first SNIFF_LINES non-blank lines of a sample, split by `sep`."""
    widths: list[int] = []
    try:
        for fields in csv.reader(io.StringIO(sample, newline=""), delimiter=sep):
            if fields:
                widths.append(len(fields))
            if len(widths) >= SNIFF_LINES:
                break
    except csv.Error:  # a quote left open at the end of the sample, a NUL, ...: use what was read
        pass
    return widths


def _csv_parse_error(path: Path, exc: Exception, sep: str = ",") -> InputError:
    """Turn a pandas CSV parser error into an InputError naming the bad line."""
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if found:
        expected, line, saw = found.groups()
        message = (f"line {line} (line 1 is the header) has {saw} fields, but the header has {expected} "
                   f"(separator: {DELIMITER_NAMES.get(sep, repr(sep))})")
    elif isinstance(exc, pd.errors.EmptyDataError):
        message = "the file holds no header row"
    else:
        message = f"the file cannot be parsed as a table ({exc})"
    return InputError(message, file=str(path),
                      hint="quote cells that contain the separator or line breaks, or check the separator")


def _read_xlsx(path: Path, *, sheet: str | int | None, encoding: str | None) -> pd.DataFrame:
    """Read one sheet of an Excel workbook (openpyxl) with every cell as a string."""
    del encoding
    file = str(path)
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except ImportError:
        raise
    except Exception as exc:  # BadZipFile, KeyError, InvalidFileException, ... on a damaged workbook
        raise InputError(f"not a valid .xlsx workbook ({type(exc).__name__}: {exc})", file=file,
                         hint="open it in Excel or WPS and save it again as .xlsx, or export it as CSV UTF-8") from exc
    with book:
        name = _pick_sheet(book.sheet_names, sheet, file)
        try:
            return pd.read_excel(book, sheet_name=name, dtype=str)
        except Exception as exc:  # openpyxl raises many types on a damaged sheet
            raise InputError(f"cannot read sheet '{name}' ({type(exc).__name__}: {exc})", file=file,
                             hint="open it in Excel or WPS and save it again, or export it as CSV UTF-8") from exc


def _pick_sheet(names: list[str], sheet: str | int | None, file: str) -> str:
    """Resolve a sheet name or 0-based index against the workbook's sheets."""
    if not names:
        raise InputError("the workbook has no sheets", file=file, hint="save a workbook with the table in a sheet")
    if sheet is None:
        return names[0]
    if isinstance(sheet, int) and 0 <= sheet < len(names):
        return names[sheet]
    if isinstance(sheet, str) and sheet in names:
        return sheet
    if isinstance(sheet, str) and sheet.isdigit() and int(sheet) < len(names):
        return names[int(sheet)]
    raise InputError(f"sheet '{sheet}' not found; sheets in the workbook: {', '.join(names)}", file=file,
                     hint="pass --sheet with one of these names (or a 0-based index)")


def _read_jsonl(path: Path, *, sheet: str | int | None, encoding: str | None) -> pd.DataFrame:
    """Read a JSON Lines file: one JSON object per non-blank line."""
    del sheet
    text = _read_text(path, encoding)
    return _records_frame(_parse_json_lines(text, str(path)), str(path), SURROGATE_ESCAPE.search(text) is not None)


def _parse_json_lines(text: str, file: str) -> list[dict]:
    """Parse JSON Lines text into a list of objects, naming the first malformed line."""
    records = []
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 may sit in a string
        if not line.strip():
            continue
        try:
            record = json.loads(line, **JSON_OPTIONS)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {number} is not valid JSON ({exc.msg} at column {exc.colno})", file=file,
                             hint="fix or remove that line; each line must hold one JSON object") from exc
        if not isinstance(record, dict):
            what = JSON_KINDS.get(line.strip()[:1], "number")
            raise InputError(f"line {number} is a JSON {what}, not an object", file=file,
                             hint='each line must hold one JSON object such as {"id": "...", "title": "..."}')
        records.append(record)
    return records


def _read_json(path: Path, *, sheet: str | int | None, encoding: str | None) -> pd.DataFrame:
    """Read a .json file holding an array of objects (JSON Lines content is accepted too)."""
    del sheet
    file = str(path)
    text = _read_text(path, encoding)
    surrogates = SURROGATE_ESCAPE.search(text) is not None
    try:
        data = json.loads(text, **JSON_OPTIONS)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # several top-level values: treat it as JSON Lines
            return _records_frame(_parse_json_lines(text, file), file, surrogates)
        raise InputError(f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})", file=file,
                         hint="fix the JSON, or save the records one object per line as .jsonl") from exc
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise InputError("the JSON must be an array of objects", file=file,
                         hint='write [{"id": "...", ...}, ...] or one object per line as .jsonl')
    return _records_frame(data, file, surrogates)


def _records_frame(records: list[dict], file: str, surrogates: bool = False) -> pd.DataFrame:
    """Build a DataFrame from JSON objects (columns in first-seen key order).

    With `surrogates` (the text holds a surrogate escape), every value is made a string and lone surrogates in
    values and keys become U+FFFD.
    """
    if not records:
        raise InputError("the file holds no records", file=file, hint="add at least one JSON object")
    if surrogates:
        records = [{SURROGATE.sub("\ufffd", key): SURROGATE.sub("\ufffd", cell_to_str(value))
                    for key, value in record.items()} for record in records]
    columns = list(dict.fromkeys(key for record in records for key in record))
    return pd.DataFrame.from_records(records, columns=columns)


def _read_parquet(path: Path, *, sheet: str | int | None, encoding: str | None) -> pd.DataFrame:
    """Read a Parquet file (pyarrow)."""
    del sheet, encoding
    try:
        return pd.read_parquet(path)
    except ImportError:
        raise
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError and others on damaged files
        raise InputError(f"not a valid Parquet file ({type(exc).__name__}: {exc})", file=str(path),
                         hint="write the file again (pandas: df.to_parquet), or export the table as CSV UTF-8") from exc
