"""Query phrases: the literal strings a keyword-style need asks for, matched as substrings of records."""

from __future__ import annotations

import re

from matcher.text.normalize import normalize
from matcher.text.segment import Segmenter

# whitespace and list / clause punctuation separate the phrases of a need ("石墨烯 散热涂层、导热膜")
_PHRASE_SPLIT = re.compile(r"[\s、；;，,。：:！!？?（）()【】\[\]\"'“”/|]+")


def query_phrases(text: str, segmenter: Segmenter, *, max_chars: int = 8, max_phrases: int = 64) -> list[str]:
    """The phrases of a query, for substring matching.

    Short chunks between separators are kept whole, exactly as typed: a keyword such as 通滤波 or
    反渗透膜 then matches a record even where jieba cuts the record's text differently. Chunks longer
    than `max_chars` are sentences, not keywords; their jieba words (accurate mode, stopwords removed)
    are used instead.

    Args:
        text: the query text.
        segmenter: segments the long chunks.
        max_chars: the longest chunk kept whole.
        max_phrases: at most this many phrases (first ones first).

    Returns:
        Distinct normalised phrases in query order.
    """
    seen: dict[str, None] = {}
    for chunk in _PHRASE_SPLIT.split(normalize(text)):
        if not chunk:
            continue
        parts = [chunk] if len(chunk) <= max_chars else segmenter.tokens(chunk, "accurate")
        for part in parts:
            if part not in seen and part not in segmenter.stopwords:
                seen[part] = None
                if len(seen) == max_phrases:
                    return list(seen)
    return list(seen)
