"""Highlighting of shared key terms in a text (escaped with `markup.md`, longest term first)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from matcher.workbench.markup import md


def highlight_terms(text: str, terms: Iterable[str], *, tag: str = "mark") -> str:
    """The text as HTML with every occurrence of the terms wrapped in <mark> (case-insensitive).

    Overlapping terms are resolved by preferring the longer one; everything else is escaped with `markup.md`
    (HTML and markdown alike), so the result is safe to render with unsafe_allow_html and the text shows as typed.
    """
    text = "" if text is None else str(text)
    unique = sorted({t.strip() for t in terms if t and t.strip()}, key=lambda t: (-len(t), t))
    if not unique or not text:
        return md(text)
    pattern = re.compile("|".join(re.escape(t) for t in unique), flags=re.IGNORECASE)
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(text):
        out.append(md(text[pos:m.start()]))
        out.append(f"<{tag}>{md(m.group(0))}</{tag}>")
        pos = m.end()
    out.append(md(text[pos:]))
    return "".join(out)
