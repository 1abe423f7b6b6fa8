"""Which enterprise records are technology demands (需求) rather than registered companies."""

from __future__ import annotations

import re

import pandas as pd

# A registered company's (or its branch's) name holds its legal form or ends with an organisation's word; a demand's
# name is the problem it states. On the shared data this tells 99.99 % of 20,231 registrations and 99.7 % of 1,729
# demands apart.
COMPANY_NAME = re.compile(
    r"有限公司|有限责任公司|股份有限|分公司|集团|合作社|研究所|事务所|商行|门市部|经营部|支局|支行|分行|营业厅|营业部|"
    r"加油站|委员会|供销社|(?:公司|厂|店|站|社|部|处|院|中心|场|点|库|门市|餐厅|药房)(?:[（(][^）)]*[）)])?$")


def demand_mask(records: pd.DataFrame, id_pattern: str | None = None) -> pd.Series:
    """Tell demands from companies among enterprise records.

    With `id_pattern`, a record is a demand when its id matches the regular expression (e.g. ``^D\\d+$`` for the
    zhibei demands). Otherwise a record is a demand when it has no registered capital and its name does not end with
    company's legal form or organisation word (有限公司, 厂, 合作社, 支行 ... `COMPANY_NAME`): the shared zhibei
    demands, the demo set's DEMO-D-* rows.

    Args:
        records: enterprise records (columns id, name and optionally capital).
        id_pattern: a regular expression on the id, or None for the rule above.

    Returns:
        A boolean Series aligned with `records`.

    Raises:
        ValueError: `id_pattern` is not a valid regular expression.
    """
    if records.empty:
        return pd.Series([], dtype=bool, index=records.index)
    ids = records["id"].astype(str)
    if id_pattern:
        try:
            rx = re.compile(id_pattern)
        except re.error as exc:
            raise ValueError(f"--demand-ids {id_pattern!r} is not a valid regular expression ({exc})") from None
        return ids.map(lambda v: bool(rx.search(v)))
    capital = records["capital"].fillna("").astype(str).str.strip() if "capital" in records else pd.Series("", index=records.index)
    names = records["name"].fillna("").astype(str).str.strip()
    return (capital == "") & ~names.str.contains(COMPANY_NAME)
