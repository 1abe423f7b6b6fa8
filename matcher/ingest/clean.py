"""Clean cell texts at ingest: control and format characters out, line breaks unified, over-long texts cut."""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from dataclasses import dataclass

import pandas as pd

MAX_TEXT_CHARS = 20_000
"""The longest text kept in a record column (characters); longer texts are cut there and reported.

A patent abstract runs to about 300 characters and the longest business scope in the shared data to about 3,000, so
the limit only stops pasted documents and broken exports (a 1,000,000-character abstract took minutes to encode).
"""

_KEPT_CONTROLS = "\n\t"
_LINE_BREAK = re.compile(r"\r\n?")


@dataclass(frozen=True)
class CellNote:
    """One cell changed by the cleaning.

    Attributes:
        row: 1-based data row number (row 1 = the first data row after the header).
        column: the canonical column.
    """

    row: int
    column: str


@dataclass
class CleanedColumns:
    """The cleaned columns of a table and the cells that were changed.

    Attributes:
        columns: column name -> cleaned Series (stripped strings, at most MAX_TEXT_CHARS characters).
        cleaned: cells that held control or format characters, in row order.
        truncated: cells cut to MAX_TEXT_CHARS, in row order.
    """

    columns: dict[str, pd.Series]
    cleaned: list[CellNote]
    truncated: list[CellNote]


def clean_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Clean one text the way ingest does.

    \\r\\n and a lone \\r become \\n; control characters that act as spaces (vertical tab, form feed, ...) become a
    space; every other control (Unicode Cc: NUL, BEL, ...) and format character (Cf: zero-width space U+200B,
    BOM U+FEFF, bidi marks, soft hyphen) is removed, as are lone surrogates (Cs, which cannot be stored as UTF-8);
    newline and tab stay. The result is stripped and cut to `limit` characters.

    Args:
        text: any string.
        limit: the longest result kept.

    Returns:
        The clean text.
    """
    return _cut(_remove_unwanted(text).strip(), limit)


def has_unwanted(text: str) -> bool:
    """Tell whether a text holds characters that `clean_text` removes or replaces (\\r aside).

    Args:
        text: any string.

    Returns:
        True when it holds a control character other than newline, tab and carriage return, a format
        character or a lone surrogate.
    """
    return _unwanted().search(text.replace("\r", "")) is not None


def clean_columns(frame: pd.DataFrame, limit: int = MAX_TEXT_CHARS) -> CleanedColumns:
    """Clean every column of an all-string table and note the cells that changed.

    Args:
        frame: a table whose cells are all strings, with a RangeIndex.
        limit: the longest text kept.

    Returns:
        The cleaned columns with the cells cleaned of unwanted characters and the cells truncated.
    """
    columns: dict[str, pd.Series] = {}
    cleaned: list[CellNote] = []
    truncated: list[CellNote] = []
    for column in frame.columns:
        name = str(column)
        values = frame[column]
        dirty = values.str.contains(_unwanted().pattern, regex=True)  # \r included: it is rewritten, not counted
        if dirty.any():
            positions = dirty.to_numpy().nonzero()[0]
            cleaned.extend(CellNote(int(p) + 1, name) for p in positions if has_unwanted(values.iat[p]))
            values = values.where(~dirty, values[dirty].map(_remove_unwanted))
        values = values.str.strip()
        long = values.str.len().gt(limit)
        if long.any():
            truncated.extend(CellNote(int(p) + 1, name) for p in long.to_numpy().nonzero()[0])
            values = values.where(~long, values[long].map(lambda text: _cut(text, limit)))
        columns[name] = values
    order = {str(column): number for number, column in enumerate(frame.columns)}
    key = lambda note: (note.row, order[note.column])  # noqa: E731
    return CleanedColumns(columns, sorted(cleaned, key=key), sorted(truncated, key=key))


def _remove_unwanted(text: str) -> str:
    """Unify line breaks and drop (or, when they act as spaces, blank) the unwanted characters."""
    return _unwanted().sub(_replacement, _LINE_BREAK.sub("\n", text))


def _cut(text: str, limit: int) -> str:
    """Cut a text to `limit` characters (trailing whitespace of the cut text removed)."""
    return text[:limit].rstrip() if len(text) > limit else text


def _replacement(match: re.Match) -> str:
    """A space for a control character that is whitespace (\\v, \\f, \\x1c-\\x1f, \\x85), else nothing."""
    return " " if match.group().isspace() else ""


@functools.cache
def _unwanted() -> re.Pattern:
    """The character class of what `clean_text` removes: Cc (but \\n and \\t), Cf and Cs."""
    codes = [code for code in range(sys.maxunicode + 1)
             if unicodedata.category(chr(code)) in ("Cc", "Cf", "Cs") and chr(code) not in _KEPT_CONTROLS]
    ranges = []
    start = previous = codes[0]
    for code in codes[1:]:
        if code != previous + 1:
            ranges.append((start, previous))
            start = code
        previous = code
    ranges.append((start, previous))
    parts = "".join(_escape(a) if a == b else f"{_escape(a)}-{_escape(b)}" for a, b in ranges)
    return re.compile(f"[{parts}]")


def _escape(code: int) -> str:
    """A code point written as a regex escape (\\uXXXX or \\UXXXXXXXX)."""
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
