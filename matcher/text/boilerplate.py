"""Removal of legal boilerplate that carries no technology signal (business-scope notes, patent preambles)."""

from __future__ import annotations

import re

from matcher.text.normalize import normalize

_PATTERNS = [
    # business scope (经营范围) legal notes and headers
    re.compile(r"[（(]?依法须经批准的项目[^）)]*[）)]?"),
    re.compile(r"[（(][^（）()]*(?:许可证|审批|批准)[^（）()]*[）)]"),
    re.compile(r"(?:经营范围|一般项目|许可项目|一般经营项目|许可经营项目)\s*[:：]"),
    re.compile(r"[（(]除[^）)]*[）)]"),
    # patent preambles
    re.compile(r"本(?:发明|实用新型|申请|公开)(?:公开|提供|涉及)?了?"),
    re.compile(r"其特征在于"),
]
_PUNCT_RUN = re.compile(r"([；。，、])[；。，、\s]+")


def strip_boilerplate(text: str) -> str:
    """Remove boilerplate phrases so that embeddings and key terms see the technical content.

    Args:
        text: a patent abstract, demand or business scope.

    Returns:
        The text without legal notes such as "（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
        scope headers such as "经营范围：" and patent preambles such as "本发明公开了".
    """
    for pattern in _PATTERNS:
        text = pattern.sub("", text)
    return _PUNCT_RUN.sub(r"\1", text).strip(" ；。，、")


def embedding_text(text: str | None) -> str:
    """The text given to an encoder: normalised (half-width, lower-case ASCII) with boilerplate removed.

    Args:
        text: raw text (None is treated as empty).

    Returns:
        The cleaned text.
    """
    return strip_boilerplate(normalize(text))
