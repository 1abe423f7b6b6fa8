"""The labelled examples the grading models learn from: zhibei offers (maturity, 门类——大类) and demands (门类)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from matcher.errors import InputError
from matcher.grading.maturity import normalize_maturity
from matcher.ingest import read_table, shared_dir
from matcher.sectors.gbt4754 import parse_sector

OFFERS = "data/zhibei/offers.jsonl"
DEMANDS = "data/zhibei/demands.jsonl"
LABELLED_COLUMNS = ("id", "text", "maturity", "section", "division")


def _path(path: str | Path | None, default: str) -> Path:
    target = Path(path) if path is not None else shared_dir() / default
    if not target.is_file():
        raise InputError("labelled data not found", file=str(target),
                         hint=f"pass the file, or set MATCHER_SHARED_DIR to the folder that holds {default}")
    return target


def _text(raw: pd.DataFrame, title: str, body: str) -> pd.Series:
    titles = raw[title] if title in raw.columns else pd.Series("", index=raw.index)
    bodies = raw[body] if body in raw.columns else pd.Series("", index=raw.index)
    return (titles.str.strip() + "。" + bodies.str.strip()).str.strip("。 ")


def labelled_offers(path: str | Path | None = None) -> pd.DataFrame:
    """Every offer with its text, maturity level and GB/T 4754 门类 / 大类 ("" where the offer gives none).

    Args:
        path: the offers file (JSONL / CSV with name, context, maturity, classification); default
            ../shared/data/zhibei/offers.jsonl.

    Returns:
        LABELLED_COLUMNS; rows with an empty text are left out.

    Raises:
        InputError: the file is missing, unreadable or has neither maturity nor classification.
    """
    target = _path(path, OFFERS)
    raw = read_table(target)
    if "maturity" not in raw.columns and "classification" not in raw.columns:
        raise InputError("the offers have neither a 'maturity' nor a 'classification' column", file=str(target))
    frame = pd.DataFrame({"id": raw["id"] if "id" in raw.columns else [f"O{i}" for i in range(len(raw))],
                          "text": _text(raw, "name", "context")})
    frame["maturity"] = raw["maturity"].map(normalize_maturity) if "maturity" in raw.columns else ""
    parsed = raw["classification"].map(parse_sector) if "classification" in raw.columns else pd.Series([("", "")] * len(raw))
    frame["section"] = [s for s, _ in parsed]
    frame["division"] = [d for _, d in parsed]
    return frame[frame["text"].str.len() > 0].reset_index(drop=True)


def labelled_demands(path: str | Path | None = None) -> pd.DataFrame:
    """Every demand with its text and 门类 (demands naming several 门类 at once get "": they teach nothing).

    Args:
        path: the demands file (name, context, classification); default ../shared/data/zhibei/demands.jsonl.

    Returns:
        LABELLED_COLUMNS (maturity and division "").
    """
    target = _path(path, DEMANDS)
    raw = read_table(target)
    frame = pd.DataFrame({"id": raw["id"] if "id" in raw.columns else [f"D{i}" for i in range(len(raw))],
                          "text": _text(raw, "name", "context")})
    frame["maturity"] = ""
    frame["section"] = [parse_sector(v)[0] for v in raw.get("classification", pd.Series("", index=raw.index))]
    frame["division"] = ""
    return frame[frame["text"].str.len() > 0].reset_index(drop=True)
