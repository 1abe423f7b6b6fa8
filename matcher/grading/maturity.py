"""技术成熟度: the five levels of the zhibei market and the readings of other spellings."""

from __future__ import annotations

import re

LEVELS: tuple[str, ...] = ("正在研发", "通过小试", "通过中试", "已有样品", "可以量产")
"""The maturity levels, least mature first (the zhibei offers' `maturity` values)."""

# other spellings seen in universities' sheets -> level
_SYNONYMS: dict[str, str] = {
    "研发": "正在研发", "实验室": "正在研发", "实验室阶段": "正在研发", "研发阶段": "正在研发", "概念": "正在研发",
    "小试": "通过小试", "小试阶段": "通过小试",
    "中试": "通过中试", "中试阶段": "通过中试",
    "样品": "已有样品", "样机": "已有样品", "原型": "已有样品",
    "量产": "可以量产", "可量产": "可以量产", "批量生产": "可以量产", "产业化": "可以量产", "已产业化": "可以量产",
}
_SPACE = re.compile(r"\s+")


def normalize_maturity(value: object) -> str:
    """Read a maturity cell as one of LEVELS.

    Args:
        value: a cell such as "中试", "通过中试", "可量产" or "".

    Returns:
        The level, or "" when the cell is empty or not recognised.
    """
    text = _SPACE.sub("", str(value or ""))
    if text in LEVELS:
        return text
    if text in _SYNONYMS:
        return _SYNONYMS[text]
    for word, level in sorted(_SYNONYMS.items(), key=lambda kv: -len(kv[0])):
        if word in text:
            return level
    return ""


def level_index(level: str) -> int:
    """0 (正在研发) .. 4 (可以量产); -1 for an unknown level."""
    return LEVELS.index(level) if level in LEVELS else -1
