"""Contacts of a record (an enterprise's contact person, phone, e-mail; a patent's inventor / team contact) as shown to
an officer, hidden from viewers when the office sets MATCHER_HIDE_CONTACTS_FROM_VIEWERS=1."""

from __future__ import annotations

import os
from collections.abc import Mapping

from matcher.schema import Kind
from matcher.workbench.frames import clean
from matcher.workbench.markup import md

HIDE_ENV = "MATCHER_HIDE_CONTACTS_FROM_VIEWERS"
# canonical column -> label, per side (the optional schema columns of matcher.schema)
FIELDS: dict[Kind, dict[str, str]] = {
    Kind.PATENT: {"inventor": "发明人/团队", "contact": "团队联系人", "phone": "联系电话", "email": "邮箱"},
    Kind.ENTERPRISE: {"contact": "联系人", "phone": "联系电话", "email": "邮箱"},
}
HIDDEN_NOTE = "联系方式仅对编辑账号显示"


def hidden_from_viewers() -> bool:
    """Whether the office hides contacts from viewers (env MATCHER_HIDE_CONTACTS_FROM_VIEWERS = 1 / true / yes)."""
    return os.environ.get(HIDE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def visible(can_edit: bool) -> bool:
    """Whether a user (editor or viewer) may see contacts."""
    return can_edit or not hidden_from_viewers()


def contacts(record: Mapping, kind: Kind) -> dict[str, str]:
    """The record's non-empty contacts: label -> value."""
    return {label: clean(record.get(col)) for col, label in FIELDS[Kind(kind)].items() if clean(record.get(col))}


def contact_line(record: Mapping, kind: Kind, can_edit: bool) -> str:
    """One markdown-safe line of a record's contacts ('' when it has none; a note when they are hidden)."""
    found = contacts(record, kind)
    if not found:
        return ""
    if not visible(can_edit):
        return HIDDEN_NOTE
    return " · ".join(f"{label}：{md(value)}" for label, value in found.items())


def export_columns(kind: Kind) -> dict[str, str]:
    """Canonical column -> Chinese header of a side's contacts, for tables and downloads."""
    prefix = "专利" if Kind(kind) == Kind.PATENT else "企业"
    return {col: (label if col == "inventor" else f"{prefix}{label}") for col, label in FIELDS[Kind(kind)].items()}
