"""Data text made safe for Streamlit markdown: every markdown and HTML character of a field is shown literally."""

from __future__ import annotations

import re

import pandas as pd

# Characters that start markdown, GFM (tables, strikethrough, autolinks), math, Streamlit directives or HTML become
# character references: shown as the character itself, in markdown and inside HTML blocks alike, but never read as
# syntax (a backslash escape would show up verbatim inside an HTML block). `_` between letters or digits, `.` (except
# after a digit: "1." lists, or "www": autolinks) and `-` inside a word cannot start anything, so file names such as
# run_manifest.json stay readable in the page source. Line breaks become references too, so a field never ends an
# HTML block or starts a markdown line of its own.
_SYNTAX = re.compile(r"""[\\`*{}\[\]()#+!|~:$@&<>"'\n\r]|(?<![^\W_])_|_(?![^\W_])|(?<=\d)\.|(?<=www)\.|(?<!\S)-""",
                     re.IGNORECASE)
_NAMED = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"}  # as html.escape writes them
_BACKTICKS = re.compile(r"`+")


def as_text(value: object) -> str:
    """A cell as display text ('' for None and missing values)."""
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def md(value: object) -> str:
    """A data field (title, name, note, id, user name, error text) for st.markdown, st.caption, st.info / warning /
    error / success, headings and tooltips, with or without unsafe_allow_html: `![i](http://x)`, `**b**`, `<img>`,
    `$x$`, `:red[x]` and line breaks that would end an HTML block are all shown as typed.

    Args:
        value: the field (None / NaN: '').

    Returns:
        The escaped text.
    """
    return _SYNTAX.sub(lambda m: _NAMED.get(m.group(0)) or f"&#{ord(m.group(0))};", as_text(value))


def md_code(value: object) -> str:
    """A data field as an inline code span (ids): a fence longer than any backtick run inside, so nothing escapes it.

    Args:
        value: the field.

    Returns:
        The code span ('' for an empty field).
    """
    text = " ".join(as_text(value).splitlines())
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
