"""The province's key industry chains (重点产业链): a TOML list of chains, each defined by sectors, IPC and keywords."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from matcher.errors import InputError


@dataclass(frozen=True)
class Chain:
    """One industry chain and what puts a record on it.

    Attributes:
        name: the chain's name, e.g. 新能源.
        sections: GB/T 4754 门类 wholly on the chain.
        divisions: GB/T 4754 大类 on the chain (as written in the labels, e.g. 医药制造业).
        ipc: IPC prefixes (H01M, C12N ...).
        industries: prefixes of the free `industry` field (新能源 matches 新能源-锂电池).
        keywords: words of the record text; a record with at least `min_keywords` of them is on the chain.
        min_keywords: how many distinct keywords the text must contain.
    """

    name: str
    sections: tuple[str, ...] = ()
    divisions: tuple[str, ...] = ()
    ipc: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    min_keywords: int = 2
    description: str = field(default="", compare=False)

    def reason(self, record: dict, section: str, division: str, text: str) -> str:
        """Why a record is on this chain ("" when it is not).

        Args:
            record: the record's canonical columns (ipc and industry are read).
            section, division: its assigned 门类 and 大类.
            text: its title and abstract (or name and text).

        Returns:
            A short reason such as "大类 医药制造业" or "关键词 锂电池、储能"; "" when no rule holds.
        """
        if division and division in self.divisions:
            return f"大类 {division}"
        if section and section in self.sections:
            return f"门类 {section}"
        ipc = str(record.get("ipc") or "").replace(" ", "").upper()
        for prefix in self.ipc:
            if ipc.startswith(prefix.upper()):
                return f"IPC {prefix}"
        industry = str(record.get("industry") or "")
        for prefix in self.industries:
            if industry.startswith(prefix):
                return f"产业领域 {industry}"
        hits = [k for k in self.keywords if k in text]
        if hits and len(hits) >= self.min_keywords:
            return "关键词 " + "、".join(hits[:3])
        return ""


_LIST_KEYS = ("sections", "divisions", "ipc", "industries", "keywords")


def load_chains(path: str | Path) -> list[Chain]:
    """Read the chains of a TOML file (see config/chains.example.toml).

    Args:
        path: a TOML file with one `[[chain]]` table per chain (name, and any of sections, divisions, ipc,
            industries, keywords, min_keywords, description).

    Returns:
        The chains, in file order.

    Raises:
        InputError: the file is missing, is not TOML, or a chain lacks a name or has a wrongly typed key.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the chains file ({exc.strerror or exc})", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", file=str(path)) from None
    tables = data.get("chain")
    if not isinstance(tables, list) or not tables:
        raise InputError("no [[chain]] tables", file=str(path), hint="see config/chains.example.toml")
    chains = []
    for number, table in enumerate(tables, start=1):
        name = str(table.get("name") or "").strip()
        if not name:
            raise InputError(f"chain {number} has no name", file=str(path), column="name")
        values = {}
        for key in _LIST_KEYS:
            value = table.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(f"chain '{name}': {key} must be a list of strings", file=str(path), column=key)
            values[key] = tuple(v.strip() for v in value if v.strip())
        min_keywords = table.get("min_keywords", 2)
        if not isinstance(min_keywords, int) or min_keywords < 1:
            raise InputError(f"chain '{name}': min_keywords must be a whole number >= 1", file=str(path),
                             column="min_keywords")
        chains.append(Chain(name, min_keywords=min_keywords, description=str(table.get("description", "")), **values))
    return chains


def chains_of(frame: pd.DataFrame, sectors: pd.DataFrame, chains: Sequence[Chain], texts: Sequence[str]) -> pd.DataFrame:
    """The chains of every record, with the reason for each.

    Args:
        frame: the records (canonical columns).
        sectors: their assigned sectors (`assign_sectors` columns section and division), row for row.
        chains: the chains (`load_chains`).
        texts: each record's text, row for row.

    Returns:
        Columns chains ("、"-joined names, "" when none) and chain_reasons ("name: reason; ..."), frame's index.
    """
    names, reasons = [], []
    for record, section, division, text in zip(frame.to_dict("records"), sectors["section"], sectors["division"], texts):
        found = [(c.name, r) for c in chains if (r := c.reason(record, section, division, text))]
        names.append("、".join(n for n, _ in found))
        reasons.append("；".join(f"{n}: {r}" for n, r in found))
    return pd.DataFrame({"chains": names, "chain_reasons": reasons}, index=frame.index)
