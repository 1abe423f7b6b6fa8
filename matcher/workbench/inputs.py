"""What an officer types, made safe before it is used or saved: control characters out (as at ingest), length capped,
and a pasted demand checked for words the engine can match on."""

from __future__ import annotations

import re
from dataclasses import dataclass

from matcher.engine import Matcher
from matcher.ingest.clean import MAX_TEXT_CHARS, clean_text
from matcher.schema import Direction

MAX_QUERY_CHARS = 2_000
"""The longest pasted demand that is matched (characters); the rest is cut with a visible note. A demand runs to a few
hundred characters; a 200,000-character paste took a minute to segment and embed and slowed every other officer."""

MAX_PASTE_CHARS = 50 * MAX_TEXT_CHARS
"""The most the paste box accepts (`max_chars`: 1,000,000). The browser drops a paste longer than that whole, silently
(Streamlit ignores a change over max_chars and the box keeps what it held), so the bound is far above any real paste:
a 200,000-character paste is taken, then cut to MAX_QUERY_CHARS with a note (tests/test_e2e_browser.py)."""

MAX_NOTE_CHARS = 5_000
"""The longest tracking note kept."""

MAX_NAME_CHARS = 100
"""The longest owner name kept."""

NO_WORDS = "没有可用于匹配的词：请输入包含技术内容的中文或英文描述（纯表情、标点或符号无法匹配）。"

_WORD = re.compile(r"\w")  # a letter, digit or CJK character (no emoji, punctuation or symbol)


def clean_field(text: object, limit: int) -> str:
    """A typed field as it is saved: control and format characters removed (newline and tab kept), stripped, cut.

    Args:
        text: what the widget returned (None: '').
        limit: the longest text kept.

    Returns:
        The clean text.
    """
    return clean_text("" if text is None else str(text), limit)


@dataclass
class PastedQuery:
    """A pasted demand prepared for matching.

    Attributes:
        text: the text that is matched (clean, at most MAX_QUERY_CHARS characters).
        original_chars: the length of the clean paste before the cut.
        truncated: whether the text was cut.
    """

    text: str
    original_chars: int
    truncated: bool

    @property
    def note(self) -> str:
        """The visible note of a cut ('' when nothing was cut)."""
        if not self.truncated:
            return ""
        return (f"已截断：粘贴的文本共 {self.original_chars:,} 字，只用前 {MAX_QUERY_CHARS:,} 字进行匹配"
                "（需求描述通常只有几百字，请保留最能说明技术问题的部分）。")


def prepare_paste(raw: object) -> PastedQuery:
    """Clean a pasted demand and cut it to `MAX_QUERY_CHARS`.

    Args:
        raw: the text box's value.

    Returns:
        The prepared query text.
    """
    text = clean_field(raw, MAX_PASTE_CHARS)
    cut = clean_text(text, MAX_QUERY_CHARS)
    return PastedQuery(cut, len(text), len(cut) < len(text))


def informative_terms(matcher: Matcher, text: str, direction: Direction = Direction.TEXT_TO_PATENT) -> list[str]:
    """The segmented terms of a query that hold a letter, digit or CJK character (emoji and punctuation hold none).

    Args:
        matcher: the engine (its segmenter, in the direction's query mode).
        text: the query text.
        direction: the query's direction.

    Returns:
        The terms; empty when there is nothing to match on.
    """
    if not _WORD.search(text):
        return []
    return [t for t in matcher.query_terms(text, direction) if _WORD.search(t)]
