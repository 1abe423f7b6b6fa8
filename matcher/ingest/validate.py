"""Map source headers onto a record schema, check ids and required texts, and report skipped rows."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from matcher.errors import InputError
from matcher.ingest.readers import as_str_series, read_table
from matcher.schema import Kind, RecordSchema, schema_for

ROW_NOTE = "row 1 = the first data row after the header"
REPORT_LIMIT = 10


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
    """

    frame: pd.DataFrame
    skipped: list[SkippedRow] = field(default_factory=list)
    file: str = "<data>"
    kind: Kind = Kind.PATENT

    @property
    def rows_read(self) -> int:
        """Number of data rows in the input (kept plus skipped)."""
        return len(self.frame) + len(self.skipped)

    def report(self, limit: int = REPORT_LIMIT) -> str:
        """Summarise the load in one line, listing at most `limit` skipped rows.

        Args:
            limit: how many skipped rows to name before "... and N more".

        Returns:
            E.g. "patents.csv: 4,097 rows read, 4,094 kept, 3 skipped (row 17: empty 'abstract'; ...)".
        """
        name = Path(self.file).name or self.file
        text = f"{name}: {self.rows_read:,} rows read, {len(self.frame):,} kept, {len(self.skipped):,} skipped"
        if not self.skipped:
            return text
        parts = [f"row {s.row}: {s.reason}" for s in self.skipped[:limit]]
        if len(self.skipped) > limit:
            parts.append(f"... and {len(self.skipped) - limit:,} more")
        return f"{text} ({'; '.join(parts)})"


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
    aliases (case-insensitive). Rows with an empty id or an empty required text are skipped and recorded.

    Args:
        df: the raw table (any header names, any cell types).
        kind: "patent" or "enterprise".
        file: the input name used in messages.
        mapping: canonical column -> source header.

    Returns:
        The validated records (canonical columns, schema order, all strings) and the rows skipped.

    Raises:
        InputError: a required column is missing, a mapping names an unknown column or header,
            ids are duplicated, the table has no data rows, or every row is skipped.
    """
    kind = Kind(kind)
    schema = schema_for(kind)
    headers = [str(c).strip() for c in df.columns]
    raw = df.set_axis(headers, axis=1).reset_index(drop=True)
    sources = resolve_columns(headers, schema, mapping, file)
    if len(raw) == 0:
        raise InputError("the table has a header but no data rows", file=file, hint="add at least one data row")
    frame = _canonical_frame(raw, schema, sources)
    keep, skipped = _find_skipped(frame, schema)
    _check_unique_ids(frame["id"], file)
    if not keep.any():
        raise _all_skipped_error(skipped, sources, file)
    frame = frame[keep].reset_index(drop=True)
    return LoadResult(frame=frame, skipped=skipped, file=file, kind=kind)


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
    """Build the canonical-column frame: mapped columns as stripped strings, others as ""."""
    columns = {}
    for column in schema.columns:
        if column in sources:
            columns[column] = as_str_series(raw[sources[column]]).str.strip()
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
