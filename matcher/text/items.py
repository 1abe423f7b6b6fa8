"""Splitting a business scope or demand into short items (经营范围 entries, clauses) for item-wise matching."""

from __future__ import annotations

import re

from matcher.text.boilerplate import strip_boilerplate
from matcher.text.normalize import normalize

_ITEM_SPLIT = re.compile(r"[、；;，,。：:\n]")


def split_items(text: str, *, min_chars: int = 2, max_items: int = 64) -> list[str]:
    """Split a text into its list items.

    A business scope is a list of trade items ("程控交换机、传输设备、数据通信设备的开发"); matching a patent
    against its best items works better than against the whole list, whose embedding blurs them.

    Args:
        text: a business scope, demand text or record text (normalised and stripped of boilerplate here).
        min_chars: shorter fragments are dropped.
        max_items: at most this many items are kept (first ones first).

    Returns:
        Distinct items in text order; [] for an empty text.
    """
    seen: dict[str, None] = {}
    for part in _ITEM_SPLIT.split(strip_boilerplate(normalize(text))):
        part = part.strip(" ()（）[]【】\"'“”")
        if len(part) >= min_chars and part not in seen:
            seen[part] = None
            if len(seen) == max_items:
                break
    return list(seen)
