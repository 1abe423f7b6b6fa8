"""Assign every patent or enterprise a GB/T 4754 门类 and 大类 with a confidence and the evidence it came from."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from matcher.schema import Kind, record_text
from matcher.sectors.chains import Chain, chains_of
from matcher.sectors.classifier import TextClassifier
from matcher.sectors.gbt4754 import parse_sector, section_code
from matcher.sectors.ipc import IPC_CONFIDENCE, ipc_sector
from matcher.sectors.model import SectorModel

SECTOR_COLUMNS = ("id", "section", "section_code", "section_confidence", "section_source", "division",
                  "division_confidence", "division_source")
"""The columns of `assign_sectors` (plus chains and chain_reasons when chains are given)."""

INPUT = "输入标注"
IPC = "IPC对照表"
MODEL = "模型估计"
NONE = "无"


def _kind_of(frame: pd.DataFrame) -> Kind:
    return Kind.PATENT if "abstract" in frame.columns or "title" in frame.columns else Kind.ENTERPRISE


def _label(record: dict, kind: Kind) -> tuple[str, str]:
    """The sector the record itself gives: its `sector`, else an `industry` that names one 门类 (demands)."""
    for column in ("sector", "industry"):
        section, division = parse_sector(record.get(column))
        if section:
            return section, division
    return "", ""


def assign_sectors(frame: pd.DataFrame, model: SectorModel | None = None, *, kind: Kind | str | None = None,
                   chains: Sequence[Chain] | None = None, tokens: Sequence[Sequence[str]] | None = None) -> pd.DataFrame:
    """门类 + 大类 for every record, each with a confidence in [0, 1] and its source.

    Evidence, strongest first: the record's own label (`sector`, or an `industry` that names a 门类; source
    输入标注, confidence 1), the IPC concordance (matcher.sectors.ipc; IPC对照表, 0.7 or the model's probability when
    the model agrees), the sector model (模型估计, its calibrated probability). A 大类 comes from the same evidence as
    the 门类 when it gives one, else from the model within that 门类.

    Args:
        frame: records with canonical columns (patents: title, abstract, optional sector / industry / ipc;
            enterprises: name, text, optional industry).
        model: the sector model (None: labels and IPC only).
        kind: the records' kind (default: patents when the frame has title / abstract).
        chains: industry chains to place the records on (adds columns chains, chain_reasons).
        tokens: the records' token lists when already segmented (TextClassifier.tokens of their texts).

    Returns:
        SECTOR_COLUMNS (+ chains), one row per record, the frame's index; 门类 "" with source 无 when nothing
        is known.
    """
    kind = Kind(kind) if kind is not None else _kind_of(frame)
    records = frame.to_dict("records")
    texts = [record_text(r, kind) for r in records]
    predicted = None
    if model is not None and records:
        predicted = model.predict(tokens if tokens is not None else TextClassifier.tokens(texts))
    rows = []
    for i, record in enumerate(records):
        guess = predicted.iloc[i] if predicted is not None else None
        rows.append(_one(record, kind, guess))
    out = pd.DataFrame(rows, columns=list(SECTOR_COLUMNS), index=frame.index)
    if chains:
        out = out.join(chains_of(frame, out, chains, texts))
    return out


def _one(record: dict, kind: Kind, guess: pd.Series | None) -> dict:
    """The sector row of one record (see `assign_sectors`)."""
    row = {"id": str(record.get("id", "")), "section": "", "section_confidence": 0.0, "section_source": NONE,
           "division": "", "division_confidence": 0.0, "division_source": NONE}
    section, division = _label(record, kind)
    if section:
        row.update(section=section, section_confidence=1.0, section_source=INPUT)
        if division:
            row.update(division=division, division_confidence=1.0, division_source=INPUT)
    elif kind == Kind.PATENT and (ipc := ipc_sector(record.get("ipc")))[0]:
        agree = guess is not None and guess["section"] == ipc[0]
        confidence = max(IPC_CONFIDENCE, float(guess["section_confidence"])) if agree else IPC_CONFIDENCE
        code = str(record.get("ipc", "")).split()[0] if str(record.get("ipc", "")).split() else ""
        row.update(section=ipc[0], section_confidence=confidence, section_source=f"{IPC} {code}".strip(),
                   division=ipc[1], division_confidence=IPC_CONFIDENCE, division_source=f"{IPC} {code}".strip())
    elif guess is not None:
        row.update(section=guess["section"], section_confidence=float(guess["section_confidence"]),
                   section_source=MODEL)
    if row["section"] and not row["division"] and guess is not None and guess["section"] == row["section"] \
            and guess["division"]:
        row.update(division=guess["division"], division_confidence=float(guess["division_confidence"]),
                   division_source=MODEL)
    row["section_code"] = section_code(row["section"])
    return row
