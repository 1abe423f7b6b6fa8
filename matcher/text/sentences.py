"""Sentence splitting for Chinese patent and demand texts."""

from __future__ import annotations

import re

_SPLIT = re.compile(r"(?<=[。；！？!?;])|\n+")


def split_sentences(text: str, *, min_chars: int = 6) -> list[str]:
    """Split a text into sentences at Chinese / ASCII sentence punctuation and line breaks.

    Args:
        text: the text to split.
        min_chars: fragments shorter than this are merged into the previous sentence.

    Returns:
        Non-empty, stripped sentences in their original order.
    """
    out: list[str] = []
    for part in _SPLIT.split(text or ""):
        part = part.strip()
        if not part:
            continue
        if out and len(part) < min_chars:
            out[-1] += part
        else:
            out.append(part)
    return out
