"""Registered capital (注册资本 / 注册资金) as written in company registrations, read as a number.

Registries write it in many ways: "10,000(万元人民币)", "3990813.182（万元）", "40万人民币", "731(万美元)", "1.2亿元",
"500000元". `registered_capital` reads the amount in 万元 (ten thousand yuan). Foreign currencies are converted
at fixed approximate rates: the value only orders companies by size (the patent-activity model reads its
logarithm), it is not an accounting figure. What cannot be read (empty, "JEAN", a size class such as 小型) is NaN.
"""

from __future__ import annotations

import math
import re

from matcher.text.normalize import to_halfwidth

_AMOUNT = re.compile(r"(\d[\d,]*(?:\.\d+)?)")
# approximate yuan per unit of each currency; the first one named in the text wins, yuan when none is
_RATES: tuple[tuple[str, float], ...] = (
    ("美元", 7.0), ("港币", 0.9), ("港元", 0.9), ("香港元", 0.9), ("欧元", 7.8), ("日元", 0.06), ("英镑", 9.0),
    ("澳大利亚元", 4.8), ("澳元", 4.8), ("加拿大元", 5.2), ("新加坡元", 5.3), ("瑞士法郎", 8.0), ("法国法郎", 1.2),
    ("德国马克", 4.0), ("丹麦克郎", 1.0), ("丹麦克朗", 1.0), ("新台币", 0.23), ("台币", 0.23),
)


def registered_capital(value: object) -> float:
    """The registered capital in 万元 (CNY ten-thousands), NaN when the text holds no amount.

    Args:
        value: the registry cell (str, number or None). A bare number is taken as 万元, the registries' unit.

    Returns:
        A non-negative float, or NaN.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else math.nan
    text = to_halfwidth(str(value)).replace(" ", "")
    match = _AMOUNT.search(text)
    if match is None:
        return math.nan
    try:
        amount = float(match.group(1).replace(",", ""))
    except ValueError:
        return math.nan
    unit = text[match.end():]
    if unit.startswith("亿") or "(亿" in unit:
        amount *= 10_000
    elif "万" not in unit and ("元" in unit or "人民币" in unit):
        amount /= 10_000  # plain yuan
    rate = next((r for name, r in _RATES if name in unit), 1.0)
    return amount * rate
