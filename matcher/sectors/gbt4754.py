"""GB/T 4754-2017 国民经济行业分类: the 20 门类 and the parsing of labels such as 制造业——医药制造业."""

from __future__ import annotations

import re

# 门类 code -> official name (GB/T 4754-2017).
SECTIONS: dict[str, str] = {
    "A": "农、林、牧、渔业",
    "B": "采矿业",
    "C": "制造业",
    "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业",
    "F": "批发和零售业",
    "G": "交通运输、仓储和邮政业",
    "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业",
    "J": "金融业",
    "K": "房地产业",
    "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业",
    "N": "水利、环境和公共设施管理业",
    "O": "居民服务、修理和其他服务业",
    "P": "教育",
    "Q": "卫生和社会工作",
    "R": "文化、体育和娱乐业",
    "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}
# 门类 and 大类 are written "门类——大类" by the zhibei market (one or two em dashes, sometimes a hyphen).
_DIVIDER = re.compile(r"\s*(?:—{1,2}|--|－－)\s*")
_PUNCT = re.compile(r"[\s、，,；;。·]")


def _key(text: str) -> str:
    """A spelling-insensitive key: punctuation and spaces removed (燃气、及水 == 燃气及水)."""
    return _PUNCT.sub("", text)


_BY_KEY = {_key(name): name for name in SECTIONS.values()}
_CODE_OF = {name: code for code, name in SECTIONS.items()}


def section_code(name: str) -> str:
    """The 门类 letter of an official 门类 name ("" when it is none)."""
    return _CODE_OF.get(name, "")


def find_sections(text: object) -> list[str]:
    """All 门类 named in a cell, in order of appearance (the demands sometimes run several together).

    Args:
        text: a cell, e.g. "制造业电力、热力、燃气、及水生产和供应业".

    Returns:
        The official 门类 names found, each once.
    """
    key = _key(str(text or ""))
    found = sorted(((key.find(k), name) for k, name in _BY_KEY.items() if k in key), key=lambda x: x[0])
    names: list[str] = []
    for _, name in found:
        if name not in names:
            names.append(name)
    return names


def parse_sector(text: object) -> tuple[str, str]:
    """Read a GB/T 4754 label into (门类, 大类).

    Args:
        text: "门类——大类" (制造业——医药制造业), a lone 门类 (制造业), or anything else.

    Returns:
        (official 门类 name, 大类 as written) when the cell names exactly one 门类 (大类 "" when absent);
        ("", "") for an empty cell, an unknown name or several 门类 run together.
    """
    text = str(text or "").strip()
    if not text:
        return "", ""
    parts = _DIVIDER.split(text, maxsplit=1)
    head, tail = parts[0], (parts[1] if len(parts) > 1 else "")
    names = find_sections(head)
    if len(names) != 1 or len(_key(head)) != len(_key(names[0])):
        return "", ""
    return names[0], tail.strip()
