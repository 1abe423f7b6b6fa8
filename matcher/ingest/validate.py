"""Map source headers onto a record schema, check ids and required texts, and report skipped and cleaned cells."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from matcher.errors import InputError
from matcher.ingest.clean import MAX_TEXT_CHARS, CellNote, clean_columns, clean_text
from matcher.ingest.readers import as_str_series, read_table
from matcher.schema import Kind, RecordSchema, schema_for

ROW_NOTE = "row 1 = the first data row after the header"
REPORT_LIMIT = 10
# Characters that separate columns in delimited files; a lone header holding one of them was split wrongly.
SEPARATOR_LOOKALIKES = (",", ";", "\t", "|", "，", "；", "、", ":")


@dataclass(frozen=True)
class SkippedRow:
    """A data row left out because a required value is empty.

    Attributes:
        row: 1-based data row number (row 1 = the first data row after the header).
        column: the canonical column that is empty (the first one, when several are).
        reason: a short human-readable reason, e.g. "empty 'abstract'".
    """

    row: int
    column: str
    reason: str


@dataclass
class LoadResult:
    """Validated records of one kind, plus what was skipped on the way.

    Attributes:
        frame: exactly the schema's canonical columns in schema order, all strings, unique `id`, RangeIndex.
        skipped: the rows left out, in row order.
        file: the input the records came from.
        kind: the record kind.
        cleaned: cells of kept rows that held control or format characters (removed), in row order.
        truncated: cells of kept rows cut to MAX_TEXT_CHARS characters, in row order.
    """

    frame: pd.DataFrame
    skipped: list[SkippedRow] = field(default_factory=list)
    file: str = "<data>"
    kind: Kind = Kind.PATENT
    cleaned: list[CellNote] = field(default_factory=list)
    truncated: list[CellNote] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        """Number of data rows in the input (kept plus skipped)."""
        return len(self.frame) + len(self.skipped)

    def report(self, limit: int = REPORT_LIMIT) -> str:
        """Summarise the load in one line, listing at most `limit` skipped rows, truncated and cleaned rows.

        Args:
            limit: how many rows to name in each list before "... and N more".

        Returns:
            E.g. "patents.csv: 4,097 rows read, 4,094 kept, 3 skipped (row 17: empty 'abstract'; ...);
            1 text truncated to 20,000 characters (row 5); 2 cells cleaned of control characters (rows 8, 9)".
        """
        name = Path(self.file).name or self.file
        text = f"{name}: {self.rows_read:,} rows read, {len(self.frame):,} kept, {len(self.skipped):,} skipped"
        if self.skipped:
            parts = [f"row {s.row}: {s.reason}" for s in self.skipped[:limit]]
            if len(self.skipped) > limit:
                parts.append(f"... and {len(self.skipped) - limit:,} more")
            text = f"{text} ({'; '.join(parts)})"
        if self.truncated:
            count = len(self.truncated)
            text += (f"; {count:,} text{'s' if count > 1 else ''} truncated to {MAX_TEXT_CHARS:,} characters "
                     f"({_rows(self.truncated, limit)})")
        if self.cleaned:
            count = len(self.cleaned)
            text += (f"; {count:,} cell{'s' if count > 1 else ''} cleaned of control / format characters "
                     f"({_rows(self.cleaned, limit)})")
        return text


def _rows(notes: Sequence[CellNote], limit: int) -> str:
    """Render the distinct rows of some cell notes, e.g. "rows 2, 7, ... and 3 more"."""
    rows = list(dict.fromkeys(note.row for note in notes))
    shown = ", ".join(str(row) for row in rows[:limit])
    more = f", ... and {len(rows) - limit:,} more" if len(rows) > limit else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def parse_mapping(spec: str | Sequence[str] | None) -> dict[str, str]:
    """Parse a CLI column mapping such as "abstract=摘要内容,title=名称".

    Args:
        spec: one "column=header" list separated by commas, or several such strings (repeated --map options).

    Returns:
        canonical column -> source header.

    Raises:
        InputError: a part is not of the form column=header, or a column is mapped twice.
    """
    if spec is None:
        return {}
    specs = [spec] if isinstance(spec, str) else list(spec)
    mapping: dict[str, str] = {}
    for part in (p for s in specs for p in re.split(r"[,，]", s)):
        if not part.strip():
            continue
        column, sep, header = (x.strip() for x in part.partition("="))
        if not sep or not column or not header:
            raise InputError(f"bad column mapping '{part.strip()}'",
                             hint="use column=header pairs separated by commas, e.g. --map abstract=摘要内容,title=名称")
        if column in mapping and mapping[column] != header:
            raise InputError(f"column '{column}' is mapped twice ('{mapping[column]}' and '{header}')",
                             column=column, hint="map each column to one header")
        mapping[column] = header
    return mapping


def load_records(
    path: str | Path,
    kind: Kind | str,
    *,
    mapping: Mapping[str, str] | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> LoadResult:
    """Read a table file and validate it as records of one kind.

    Args:
        path: the table file (see `read_table` for the formats).
        kind: "patent" or "enterprise".
        mapping: canonical column -> source header, on top of the schema's automatic aliases.
        encoding: text encoding for CSV / TSV / JSON (auto-detected when None).
        sheet: XLSX sheet name or 0-based index (first sheet when None).

    Returns:
        The validated records and the rows skipped.

    Raises:
        InputError: the file cannot be read, or fails validation.
    """
    frame = read_table(path, sheet=sheet, encoding=encoding)
    return validate_frame(frame, kind, file=str(path), mapping=mapping)


def validate_frame(
    df: pd.DataFrame,
    kind: Kind | str,
    *,
    file: str = "<data>",
    mapping: Mapping[str, str] | None = None,
) -> LoadResult:
    """Validate a raw table as records of one kind.

    Headers are matched to canonical columns by `mapping` first, then by canonical name, then by the schema
    aliases (case-insensitive); control and format characters in headers are ignored. Every cell is cleaned
    (`matcher.ingest.clean.clean_text`: control and format characters removed, texts over MAX_TEXT_CHARS cut);
    the changed cells are recorded. Rows with an empty id or an empty required text are skipped and recorded.

    Args:
        df: the raw table (any header names, any cell types).
        kind: "patent" or "enterprise".
        file: the input name used in messages.
        mapping: canonical column -> source header.

    Returns:
        The validated records (canonical columns, schema order, all strings) and the rows skipped.

    Raises:
        InputError: two headers are the same, a required column is missing, a mapping names an unknown column
            or header, ids are duplicated, the table has no data rows, or every row is skipped.
    """
    kind = Kind(kind)
    schema = schema_for(kind)
    headers = _clean_headers(df.columns, file)
    raw = df.set_axis(headers, axis=1).reset_index(drop=True)
    sources = resolve_columns(headers, schema, mapping, file)
    if len(raw) == 0:
        raise InputError("the table has a header but no data rows", file=file, hint="add at least one data row")
    frame = _canonical_frame(raw, schema, sources)
    cleaned = clean_columns(frame)
    frame = pd.DataFrame(cleaned.columns, index=frame.index)
    keep, skipped = _find_skipped(frame, schema)
    _check_unique_ids(frame["id"], file)
    if not keep.any():
        raise _all_skipped_error(skipped, sources, file)
    kept_rows = set((keep.to_numpy().nonzero()[0] + 1).tolist())
    frame = frame[keep].reset_index(drop=True)
    return LoadResult(frame=frame, skipped=skipped, file=file, kind=kind,
                      cleaned=[n for n in cleaned.cleaned if n.row in kept_rows],
                      truncated=[n for n in cleaned.truncated if n.row in kept_rows])


def _clean_headers(columns: Sequence[object], file: str) -> list[str]:
    """Header names as stripped strings without control / format characters; two equal names are an error."""
    headers = [clean_text(str(c), limit=len(str(c))) for c in columns]
    seen: set[str] = set()
    for header in headers:
        if header in seen:
            raise InputError(f"header '{header}' appears more than once", file=file, column=header,
                             hint="give every column a distinct header name")
        seen.add(header)
    return headers


def resolve_columns(
    headers: Sequence[str],
    schema: RecordSchema,
    mapping: Mapping[str, str] | None,
    file: str,
) -> dict[str, str]:
    """Decide which source header feeds each canonical column.

    Args:
        headers: the source header names (stripped).
        schema: the record schema.
        mapping: explicit canonical column -> source header.
        file: the input name used in messages.

    Returns:
        canonical column -> source header, for every column found (all required ones included).

    Raises:
        InputError: a mapping key is not a schema column, a mapped header does not exist,
            or a required column cannot be found.
    """
    sources = _explicit_columns(headers, schema, mapping or {}, file)
    used = set(sources.values())
    by_lower: dict[str, str] = {}
    for header in headers:
        by_lower.setdefault(header.lower(), header)
    candidate_lists = [[c] for c in schema.columns], [list(schema.aliases.get(c, ())) for c in schema.columns]
    for candidates_per_column in candidate_lists:  # canonical names win over aliases
        for column, candidates in zip(schema.columns, candidates_per_column):
            if column in sources:
                continue
            for name in candidates:
                header = by_lower.get(name.lower())
                if header is not None and header not in used:
                    sources[column] = header
                    used.add(header)
                    break
    missing = [c for c in schema.required if c not in sources]
    if missing:
        raise _missing_columns_error(missing, headers, schema, file)
    return sources


def _explicit_columns(
    headers: Sequence[str], schema: RecordSchema, mapping: Mapping[str, str], file: str
) -> dict[str, str]:
    """Check an explicit mapping against the schema and the headers present."""
    sources: dict[str, str] = {}
    for column, header in mapping.items():
        column, header = str(column).strip(), str(header).strip()
        if column not in schema.columns:
            raise InputError(f"the mapping names '{column}', which is not a {schema.kind.value} column; "
                             f"valid columns: {', '.join(schema.columns)}", file=file, column=column,
                             hint=f"use --map <column>=<header> with one of: {', '.join(schema.columns)}")
        if header not in headers:
            close = _closest(header, [header], headers)
            hint = (f"did you mean '{close}'? pass --map {column}={close}" if close
                    else f"pass --map {column}=<one of the headers found>")
            raise InputError(f"the mapping {column}={header} names a header that is not in the file; "
                             f"headers found: {_list_headers(headers)}", file=file, column=column, hint=hint)
        sources[column] = header
    return sources


def _missing_columns_error(
    missing: list[str], headers: Sequence[str], schema: RecordSchema, file: str
) -> InputError:
    """Build the error for required columns that no header matches, with suggestions."""
    names = ", ".join(f"'{c}'" for c in missing)
    message = (f"required {schema.kind.value} column{'s' if len(missing) > 1 else ''} {names} not found; "
               f"headers found: {_list_headers(headers)}")
    if len(headers) == 1 and any(sep in headers[0] for sep in SEPARATOR_LOOKALIKES):
        return InputError(f"{message}; the header is one single column holding separators, so the delimiter "
                          "looks wrong", file=file,
                          hint="separate the columns with commas, semicolons, tabs or | (Excel: save as "
                               "'CSV UTF-8'), or check the separator the file was exported with")
    hints = []
    for column in missing:
        close = _closest(column, [column, *schema.aliases.get(column, ())], headers)
        if close:
            hints.append(f"did you mean '{close}'? pass --map {column}={close} or rename that header to '{column}'")
        else:
            hints.append(f"pass --map {column}=<header> naming the header that holds '{column}'")
    return InputError(message, file=file, column=missing[0], hint="; ".join(hints))


def _closest(column: str, names: Sequence[str], headers: Sequence[str]) -> str | None:
    """Return the header most similar to any of `names` (difflib ratio >= 0.6), or None."""
    best, best_score = None, 0.6
    for header in headers:
        for name in names:
            score = difflib.SequenceMatcher(None, name.lower(), header.lower()).ratio()
            if score > best_score or (score == best_score and best is None):
                best, best_score = header, score
    return best


def _list_headers(headers: Sequence[str], limit: int = 30) -> str:
    """Render the header names for a message, truncated after `limit`."""
    if not headers:
        return "(none)"
    shown = ", ".join(f"'{h}'" for h in headers[:limit])
    return shown + (f", ... ({len(headers) - limit} more)" if len(headers) > limit else "")


def _canonical_frame(raw: pd.DataFrame, schema: RecordSchema, sources: Mapping[str, str]) -> pd.DataFrame:
    """Build the canonical-column frame: mapped columns as strings, others as ""."""
    columns = {}
    for column in schema.columns:
        if column in sources:
            columns[column] = as_str_series(raw[sources[column]])
        else:
            columns[column] = pd.Series("", index=raw.index, dtype=str)
    return pd.DataFrame(columns, index=raw.index)


def _find_skipped(frame: pd.DataFrame, schema: RecordSchema) -> tuple[pd.Series, list[SkippedRow]]:
    """Find rows with an empty id or required text; return the keep mask and one SkippedRow per bad row."""
    empty = pd.DataFrame({c: frame[c].eq("") for c in schema.required})
    bad = empty.any(axis=1)
    skipped = []
    for position in bad.to_numpy().nonzero()[0]:
        columns = [c for c in schema.required if empty[c].iat[position]]
        reason = "empty " + " and ".join(f"'{c}'" for c in columns)
        skipped.append(SkippedRow(row=int(position) + 1, column=columns[0], reason=reason))
    return ~bad, skipped


def _check_unique_ids(ids: pd.Series, file: str) -> None:
    """Raise an InputError naming the first duplicated id and both of its row numbers."""
    repeated = ids.ne("") & ids.duplicated(keep="first")
    if not repeated.any():
        return
    second = int(repeated.to_numpy().argmax())
    value = ids.iat[second]
    first = int(ids.eq(value).to_numpy().argmax())
    others = ids[repeated].nunique() - 1
    more = f"; {others:,} other id{'s are' if others > 1 else ' is'} duplicated too" if others else ""
    raise InputError(f"duplicate id '{value}' in rows {first + 1} and {second + 1} ({ROW_NOTE}){more}",
                     file=file, row=second + 1, column="id",
                     hint="make the ids unique (or pass --map id=<header> naming a column with unique values)")


def _all_skipped_error(skipped: list[SkippedRow], sources: Mapping[str, str], file: str) -> InputError:
    """Build the error for a table whose every row lacks an id or a required text."""
    counts = pd.Series([s.column for s in skipped]).value_counts()
    worst = counts.index[0]
    mapped = ", ".join(f"{c}<-'{h}'" for c, h in sources.items())
    return InputError(f"all {len(skipped):,} rows were skipped because a required value is empty "
                      f"(most often '{worst}', in {counts.iloc[0]:,} rows); columns used: {mapped}",
                      file=file, column=worst,
                      hint=f"check that '{worst}' is mapped to the right header (--map {worst}=<header>) "
                           "and that the file has data in it")
