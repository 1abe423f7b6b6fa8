"""The weekly digest for one enterprise: at most M patents it has not been offered, with the licence-fit line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.office.contacts import Contact
from matcher.office.licence_fit import LEVEL_TEXT, licence_fit, with_terms
from matcher.rank.degree import confidences, degree, model_of
from matcher.schema import Direction, Kind

COLUMNS = ["rank", "patent_id", "title", "applicant", "license_mode", "price", "degree", "score", "licence_fit", "licence_line",
           "shared_terms"]
DIGEST_HEADERS = {"rank": "序号", "patent_id": "专利编号", "title": "专利名称", "applicant": "专利权人",
                  "license_mode": "许可方式", "price": "价格", "degree": "匹配度", "licence_fit": "许可匹配",
                  "licence_line": "许可说明", "shared_terms": "共同关键词"}


@dataclass
class Digest:
    """One enterprise's weekly digest.

    Attributes:
        enterprise: the enterprise record.
        rows: the patents (COLUMNS), best first.
        left_out: how many candidates were left out as already offered, or by the licence-fit filter.
    """

    enterprise: dict
    rows: pd.DataFrame
    left_out: dict

    def cover(self, week: str = "") -> list[tuple[str, object]]:
        """The cover lines of the digest's workbook."""
        e = self.enterprise
        first = licence_fit(e, {}).free_first
        return [
            ("企业", f"{e.get('name', '')}（{e.get('id', '')}）"),
            ("周次", week),
            ("地区", e.get("region", "") or "未填"),
            ("合作方式", e.get("cooperation", "") or "未填"),
            ("预算", e.get("budget", "") or "未填"),
            ("先免费后有偿", f"符合条件（{first}）" if first else "—"),
            ("专利数", len(self.rows)),
            ("说明", "以下专利按与贵单位技术需求/经营范围的匹配程度排序；已推送过的专利不再重复列出。"
                     + (f"已排除 {sum(self.left_out.values())} 项（{'；'.join(f'{k} {v}' for k, v in self.left_out.items() if v)}）。"
                        if sum(self.left_out.values()) else "")),
        ]


def weekly_digest(matcher: Matcher, enterprise_id: str, *, m: int = 5, contact: Contact | None = None,
                  min_fit: int | None = None, patent_filters: dict | None = None, depth: int = 50,
                  terms: Mapping[str, object] | None = None) -> Digest:
    """The patents of one enterprise's weekly digest.

    Args:
        matcher: a loaded engine.
        enterprise_id: the enterprise (or demand).
        m: at most this many patents.
        contact: its contact history (patents already on the shortlist with it are left out).
        min_fit: keep only patents whose licence fit is at least this level (2 契合, 1 可协商; None: no filter; an
            unknown fit passes).
        patent_filters: filters on the ranked patents.
        depth: candidates ranked before leaving out.
        terms: patent id -> the licence terms editors set (matcher.tracking.terms.current_terms); they win over the
            input columns.

    Returns:
        The Digest.

    Raises:
        MatcherError: no such enterprise or m < 1.
    """
    if m < 1:
        raise MatcherError(f"a digest needs at least one patent (m {m})")
    if enterprise_id not in matcher.collection(Kind.ENTERPRISE):
        raise MatcherError(f"no enterprise or demand with id {enterprise_id!r} in the index")
    enterprise = matcher.collection(Kind.ENTERPRISE).record(enterprise_id)
    offered = contact.pairs if contact is not None else frozenset()
    query = matcher.query_for(Kind.ENTERPRISE, enterprise_id)
    query.exclude = tuple(offered)
    result = matcher.search(query, Kind.PATENT, k=max(depth, m), filters=patent_filters)[0]
    shown = (confidences(model_of(matcher), Direction.ENTERPRISE_TO_PATENT, matcher.pair_features([result])[0])
             if result.matches else [])
    rows, unfit = [], 0
    for match, p in zip(result.matches, shown):
        record = with_terms(match.record, (terms or {}).get(match.target_id))
        fit = licence_fit(enterprise, record)
        if min_fit is not None and fit.level is not None and fit.level < min_fit:
            unfit += 1
            continue
        if len(rows) < m:
            rec = record
            rows.append({"rank": len(rows) + 1, "patent_id": match.target_id, "title": rec.get("title", ""),
                         "applicant": rec.get("applicant", ""), "license_mode": rec.get("license_mode", ""),
                         "price": rec.get("price", ""), "degree": degree(p), "score": round(float(match.score), 6),
                         "licence_fit": LEVEL_TEXT[fit.level], "licence_line": fit.line(),
                         "shared_terms": "、".join(match.explanation.shared_terms) if match.explanation else ""})
    return Digest(enterprise, pd.DataFrame(rows, columns=COLUMNS),
                  {"已在推送清单中": len(offered), "许可方式不符": unfit})
