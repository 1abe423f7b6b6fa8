"""Duplicate patents across sources: the same publication number, or the same title and applicant."""

from __future__ import annotations

import re

import pandas as pd

from matcher.text.normalize import company_key, normalize

DUPLICATE_COLUMNS = ("id", "duplicate_of", "rule")
_NOT_ALNUM = re.compile(r"[^0-9a-z]")
_NOT_WORD = re.compile(r"[\W_]+")


def number_key(record_id: object) -> str:
    """A publication / application number without CN / ZL, spaces, dots and case ("CN 1123.45A" -> "112345a")."""
    key = _NOT_ALNUM.sub("", normalize(str(record_id or "")))
    return re.sub(r"^(cn|zl)", "", key)


def title_key(title: object, applicant: object) -> str:
    """Normalised title + first applicant ("" when either is empty: such records are never merged on it)."""
    first = re.split(r"[;；、]", str(applicant or ""))[0]
    t, a = _NOT_WORD.sub("", normalize(str(title or ""))), company_key(first)
    return f"{t}|{a}" if t and a else ""


def find_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """The records that duplicate an earlier one (frame order: the first of a group is kept).

    Args:
        frame: patent records (id, title, applicant).

    Returns:
        DUPLICATE_COLUMNS: each duplicate's id, the id it duplicates and the rule (同一公开号 / 同名同申请人).
    """
    first_by: dict[str, str] = {}
    rows = []
    for record in frame.to_dict("records"):
        rid = str(record.get("id", ""))
        keys = [("同一公开号", "n:" + number_key(rid)),
                ("同名同申请人", "t:" + title_key(record.get("title"), record.get("applicant")))]
        hit = next(((rule, first_by[key]) for rule, key in keys if len(key) > 2 and key in first_by), None)
        if hit:
            rows.append({"id": rid, "duplicate_of": hit[1], "rule": hit[0]})
        for _, key in keys:
            if len(key) > 2:
                first_by.setdefault(key, hit[1] if hit else rid)
    return pd.DataFrame(rows, columns=list(DUPLICATE_COLUMNS))
