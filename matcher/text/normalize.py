"""Text normalisation: full-width -> half-width, case folding and whitespace clean-up."""

from __future__ import annotations

import re
import unicodedata

SCOPE_PREFIX = "经营范围："
"""How the benchmarks and the registry adapter present a business scope after the company name."""

_SPACE = re.compile(r"\s+")
# Chinese punctuation that NFKC would turn into ASCII; kept as is because sentence splitting and
# display rely on it.
_KEEP = set("，。、；：？！“”‘’（）《》【】")


def to_halfwidth(text: str) -> str:
    """Convert full-width ASCII letters, digits and symbols (and the ideographic space) to half-width.

    Args:
        text: any string.

    Returns:
        The string with U+FF01..U+FF5E mapped to ASCII and U+3000 to a space; Chinese punctuation
        such as "，" and "。" is left unchanged.
    """
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _KEEP:
            out.append(ch)
        elif code == 0x3000:
            out.append(" ")
        elif 0xFF01 <= code <= 0xFF5E:
            out.append(chr(code - 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


def normalize(text: str | None) -> str:
    """Normalise a text for segmentation and embedding.

    Args:
        text: raw text (None is treated as empty).

    Returns:
        Unicode-NFC text with full-width ASCII made half-width, ASCII lower-cased and runs of
        whitespace collapsed to one space.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFC", str(text))
    text = to_halfwidth(text)
    text = "".join(ch.lower() if ch.isascii() else ch for ch in text)
    return _SPACE.sub(" ", text).strip()


def company_key(name: str | None) -> str:
    """The form in which company names are compared across sources (NFKC, stripped).

    Patents write "腾讯科技(深圳)有限公司" where the registry writes "腾讯科技（深圳）有限公司"; both give the
    same key.
    """
    return unicodedata.normalize("NFKC", str(name or "")).strip()


_ORGANISATION_WORD = re.compile(r"公司|集团|合作社|供销社|研究院|研究所|事务所|工作室|银行|医院|学校|协会|商行|经营部|服务部|门市部")
_ORGANISATION_END = re.compile(r"(?:中心|[厂店站所局处厅社行部场馆])$")
_TRAILING_BRACKET = re.compile(r"[（(][^（）()]*[)）]$")


def is_organisation_name(name: str | None) -> bool:
    """Whether a record's name is that of an organisation (a registered company, branch, co-operative, institute),
    not the title of a demand or offer ("针织围巾防起球工艺改进").

    A name counts when it contains a legal-form word (公司, 集团, 合作社, 研究院 ...) or ends in an organisation
    suffix (厂, 中心, 支行, 门市部 ...), a trailing bracket such as （有限合伙） aside; a name with a comma is a
    sentence. On the shared data: all 20,231 registered companies and 5 of the 1,729 demand titles.
    """
    text = _TRAILING_BRACKET.sub("", str(name or "").strip())
    if not text or "，" in text or "," in text:
        return False
    return bool(_ORGANISATION_WORD.search(text) or _ORGANISATION_END.search(text))
