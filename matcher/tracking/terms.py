"""A patent's licence terms set by editors (licence mode, price, maturity), every change a new version."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from matcher.ingest.clean import clean_text
from matcher.tracking.constants import LICENCE_MODES, MATURITY_LEVELS
from matcher.tracking.db import guarded
from matcher.tracking.models import PatentTerms
from matcher.tracking.service import Actor, TrackingError, TrackingStore, utcnow, writer

TERM_FIELDS = ("license_mode", "price", "maturity")  # the index columns the terms replace


@dataclass(frozen=True)
class Terms:
    """One version of a patent's terms ("" = not set; `changed_at`: naive UTC)."""

    patent_id: str
    version: int
    license_mode: str
    price: str
    maturity: str
    changed_by: str
    changed_by_login: str
    changed_at: datetime

    def values(self) -> dict[str, str]:
        """The terms as index columns: license_mode, price, maturity."""
        return {f: getattr(self, f) for f in TERM_FIELDS}


class TermsConflictError(TrackingError):
    """Someone saved the patent's terms since they were loaded."""


def set_terms(store: TrackingStore, patent_id: str, expected_version: int, *, user: Actor | str,
              license_mode: str = "", price: str = "", maturity: str = "") -> Terms:
    """Save a new version of a patent's terms.

    Args:
        store: the tracking store.
        patent_id: the patent.
        expected_version: the version the editor loaded (0 when the patent had no terms yet).
        user: the officer (a viewer is refused), or a name for a trusted script.
        license_mode: one of LICENCE_MODES or "".
        price: free text (e.g. "8万元", "面议"), at most 100 characters.
        maturity: one of MATURITY_LEVELS or "".

    Returns:
        The saved version.

    Raises:
        TrackingError: a value is not allowed.
        TermsConflictError: another editor saved a version since `expected_version`.
        PermissionDeniedError: the user may only read.
    """
    name, login = writer(user)
    price = clean_text(price or "", limit=1000)
    if license_mode and license_mode not in LICENCE_MODES:
        raise TrackingError(f"许可方式「{license_mode}」无效；可选：{'、'.join(LICENCE_MODES)}")
    if maturity and maturity not in MATURITY_LEVELS:
        raise TrackingError(f"成熟度「{maturity}」无效；可选：{'、'.join(MATURITY_LEVELS)}")
    if len(price) > 100:
        raise TrackingError("价格最多 100 字")
    conflict = None
    with guarded(store.engine.url, f"set the terms of patent {patent_id}"):
        current = _latest_version(store, patent_id)
        if current != expected_version:
            conflict = current
        else:
            row = PatentTerms(patent_id=str(patent_id), version=expected_version + 1, license_mode=license_mode or "",
                              price=price, maturity=maturity or "", changed_by=name, changed_by_login=login,
                              changed_at=utcnow())
            try:
                with store.Session.begin() as s:
                    s.add(row)
            except IntegrityError:  # another editor inserted this version between our read and our write
                conflict = _latest_version(store, patent_id)
    if conflict is not None:
        latest = terms_history(store, patent_id)[-1]
        raise TermsConflictError(
            f"专利 {patent_id} 的条款已被 {latest.changed_by or '其他用户'} 修改（您编辑的是第 {expected_version} 版，"
            f"当前为第 {conflict} 版），您的修改未保存。请重新加载后再修改。")
    return _terms(row)


def current_terms(store: TrackingStore, patent_ids: Iterable[str] | None = None) -> dict[str, Terms]:
    """The latest terms of every patent that has any (or of `patent_ids`): patent id -> Terms.

    This is the reading other code uses (filters, exports, letters, licence-mode fit): the terms an editor set last.
    """
    latest = (select(PatentTerms.patent_id, func.max(PatentTerms.version).label("version"))
              .group_by(PatentTerms.patent_id))
    if patent_ids is not None:
        latest = latest.where(PatentTerms.patent_id.in_([str(p) for p in patent_ids]))
    latest = latest.subquery()
    stmt = select(PatentTerms).join(latest, (PatentTerms.patent_id == latest.c.patent_id)
                                    & (PatentTerms.version == latest.c.version))
    with guarded(store.engine.url, "read the patent terms"), store.Session() as s:
        return {r.patent_id: _terms(r) for r in s.scalars(stmt)}


def terms_history(store: TrackingStore, patent_id: str) -> list[Terms]:
    """Every version of a patent's terms, oldest first."""
    with guarded(store.engine.url, f"read the terms of patent {patent_id}"), store.Session() as s:
        rows = s.scalars(select(PatentTerms).where(PatentTerms.patent_id == str(patent_id)).order_by(PatentTerms.version))
        return [_terms(r) for r in rows]


def _latest_version(store: TrackingStore, patent_id: str) -> int:
    with store.Session() as s:
        return int(s.scalar(select(func.max(PatentTerms.version)).where(PatentTerms.patent_id == str(patent_id))) or 0)


def _terms(row: PatentTerms) -> Terms:
    return Terms(row.patent_id, row.version, row.license_mode, row.price, row.maturity, row.changed_by,
                 row.changed_by_login or "", row.changed_at)
