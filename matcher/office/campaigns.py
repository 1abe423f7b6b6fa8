"""Open-licence campaigns: for one patent, N enterprises spread over regions and sectors by maximal marginal relevance,
skipping those contacted lately or over their weekly cap; added to the shortlist in one step."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.office.contacts import Contact, blocked, contact_history
from matcher.office.licence_fit import LEVEL_TEXT, licence_fit, with_terms
from matcher.office.sectors import UNLABELLED, sector_labels
from matcher.rank.degree import confidences, degree, model_of
from matcher.schema import Direction, Kind
from matcher.tracking import DuplicatePairError, TrackingStore
from matcher.tracking.service import Actor, utcnow
from matcher.tracking.terms import current_terms

REGION_WEIGHT = 0.5
"""Similarity of two candidates = REGION_WEIGHT x same region + (1 - REGION_WEIGHT) x same sector."""
COLUMNS = ["rank", "enterprise_id", "name", "region", "sector", "degree", "score", "relevance", "mmr", "engine_rank",
           "licence_fit", "licence_line"]


def similarity(regions: list[str], sectors: list[str]) -> np.ndarray:
    """The candidates' pairwise similarity: same region and same sector, weighted by REGION_WEIGHT (an unknown
    region or sector is never the same as another)."""
    r = np.array(regions, dtype=object)
    s = np.array(sectors, dtype=object)
    same_r = (r[:, None] == r[None, :]) & (r[:, None] != "")
    same_s = (s[:, None] == s[None, :]) & (s[:, None] != UNLABELLED) & (s[:, None] != "")
    return REGION_WEIGHT * same_r + (1 - REGION_WEIGHT) * same_s


def mmr(relevance: np.ndarray, sim: np.ndarray, n: int, lam: float) -> list[tuple[int, float]]:
    """Maximal marginal relevance (Carbonell & Goldstein 1998): repeatedly take the candidate with the best
    lam x relevance - (1 - lam) x (its highest similarity to those already taken).

    Args:
        relevance: each candidate's relevance in [0, 1].
        sim: pairwise similarity in [0, 1].
        n: how many to take.
        lam: 1.0 = by relevance alone, lower = more spread.

    Returns:
        (position, marginal gain when taken) of the candidates taken, in order (ties go to the earlier candidate).
    """
    taken: list[tuple[int, float]] = []
    left = list(range(len(relevance)))
    closest = np.zeros(len(relevance))
    while left and len(taken) < n:
        gains = lam * relevance[left] - (1 - lam) * closest[left]
        best = int(np.argmax(gains))
        pick = left[best]
        taken.append((pick, float(gains[best])))
        left.remove(pick)
        closest = np.maximum(closest, sim[pick])
    return taken


@dataclass
class Campaign:
    """A campaign for one patent.

    Attributes:
        patent: the patent record.
        rows: the chosen enterprises (COLUMNS), in campaign order.
        skipped: the candidates left out because of recent contact or the weekly cap (enterprise_id, name, reason).
        settings: what it was built with (n, lam, skip_days, weekly_cap, pool).
    """

    patent: dict
    rows: pd.DataFrame
    skipped: pd.DataFrame
    settings: dict = field(default_factory=dict)

    def cover(self) -> list[tuple[str, object]]:
        """The cover lines of the campaign's workbook."""
        s = self.settings
        return [
            ("专利", f"{self.patent.get('title', '')}（{self.patent.get('id', '')}）"),
            ("申请人", self.patent.get("applicant", "")),
            ("许可方式", self.patent.get("license_mode", "") or "未填"),
            ("价格", self.patent.get("price", "") or "未填"),
            ("企业数", len(self.rows)),
            ("覆盖地区", "、".join(sorted({r for r in self.rows["region"] if r})) or "未标注"),
            ("覆盖领域", "、".join(sorted(set(self.rows["sector"])))),
            ("选取方法", f"最大边际相关（MMR, λ={s.get('lam')}）：在前 {s.get('pool')} 名候选企业中兼顾匹配分与地区、领域的分散"),
            ("联系规则", f"{s.get('skip_days')} 天内联系过的企业不再选入；每家企业每周最多推送 {s.get('weekly_cap')} 次；"
                        f"因此跳过 {len(self.skipped)} 家"),
        ]


def build_campaign(matcher: Matcher, patent_id: str, *, n: int = 20, pool: int = 200, lam: float = 0.7,
                   skip_days: int = 30, weekly_cap: int = 3, store: TrackingStore | None = None,
                   contacts: dict[str, Contact] | None = None, enterprise_filters: dict | None = None,
                   now: datetime | None = None) -> Campaign:
    """Choose the enterprises of a campaign for one patent.

    Args:
        matcher: a loaded engine.
        patent_id: the patent.
        n: enterprises wanted.
        pool: candidates ranked by the engine before the spread is chosen.
        lam: the MMR trade-off (1.0: by score alone).
        skip_days: leave out enterprises pushed within this many days.
        weekly_cap: leave out enterprises with this many pushes in the last 7 days.
        store: the tracking database the contacts are read from (None: no contacts known).
        contacts: the contacts, when already read (wins over `store`).
        enterprise_filters: filters on the ranked enterprises (column -> values).
        now: the reference time (naive UTC).

    Returns:
        The Campaign.

    Raises:
        MatcherError: no such patent, bad n / lam, or the index has no enterprises.
    """
    if n < 1 or pool < n:
        raise MatcherError(f"a campaign needs n >= 1 and a pool of at least n candidates (n {n}, pool {pool})")
    if not 0.0 <= lam <= 1.0:
        raise MatcherError(f"lam must be between 0 and 1 (got {lam})")
    if not matcher.has(Kind.ENTERPRISE):
        raise MatcherError("the index has no enterprises to campaign to")
    if patent_id not in matcher.collection(Kind.PATENT):
        raise MatcherError(f"no patent with id {patent_id!r} in the index")
    now = now or utcnow()
    contacts = contacts if contacts is not None else contact_history(store, now)
    patent = matcher.collection(Kind.PATENT).record(patent_id)
    if store is not None:  # the licence terms an editor set win over the input columns
        patent = with_terms(patent, current_terms(store, [patent_id]).get(patent_id))
    result = matcher.search(matcher.query_for(Kind.PATENT, patent_id), Kind.ENTERPRISE, k=pool,
                            filters=enterprise_filters, explain=False)[0]
    shown = (confidences(model_of(matcher), Direction.PATENT_TO_ENTERPRISE, matcher.pair_features([result])[0])
             if result.matches else [])
    degrees = {m.target_id: degree(p) for m, p in zip(result.matches, shown)}
    keep, skipped = [], []
    for m in result.matches:
        contact = contacts.get(m.target_id)
        why = "已在推送清单中" if contact is not None and patent_id in contact.pairs else blocked(contact, now, skip_days, weekly_cap)
        if why:
            skipped.append({"enterprise_id": m.target_id, "name": m.record.get("name", ""), "reason": why})
        else:
            keep.append(m)
    records = pd.DataFrame([m.record for m in keep]) if keep else pd.DataFrame(columns=["region", "industry"])
    regions = records["region"].fillna("").astype(str).str.strip().tolist() if "region" in records else [""] * len(keep)
    sectors = sector_labels(records).tolist()
    scores = np.array([m.score for m in keep], dtype=float)
    span = float(scores.max() - scores.min()) if len(scores) else 0.0
    relevance = (scores - scores.min()) / span if span > 0 else np.ones(len(scores))
    order = mmr(relevance, similarity(regions, sectors), n, lam)
    rows = []
    for rank, (i, gain) in enumerate(order, start=1):
        m = keep[i]
        fit = licence_fit(m.record, patent)
        rows.append({"rank": rank, "enterprise_id": m.target_id, "name": m.record.get("name", ""), "region": regions[i],
                     "sector": sectors[i], "degree": degrees[m.target_id], "score": round(float(m.score), 6), "relevance": round(float(relevance[i]), 4),
                     "mmr": round(gain, 4), "engine_rank": m.rank,
                     "licence_fit": LEVEL_TEXT[fit.level], "licence_line": fit.line()})
    settings = {"n": n, "pool": pool, "lam": lam, "skip_days": skip_days, "weekly_cap": weekly_cap}
    return Campaign(patent, pd.DataFrame(rows, columns=COLUMNS),
                    pd.DataFrame(skipped, columns=["enterprise_id", "name", "reason"]), settings)


def add_campaign(store: TrackingStore, campaign: Campaign, *, user: Actor | str, note: str = "") -> tuple[int, int]:
    """Put every pair of a campaign on the shortlist as 待推送 (pairs already there are left as they are).

    Args:
        store: the tracking store.
        campaign: the campaign.
        user: the officer (a viewer is refused by the store), or a name for a script.
        note: the note stored with each pair (default: 开放许可推广活动).

    Returns:
        (added, already on the shortlist).
    """
    added = dup = 0
    pid = str(campaign.patent.get("id", ""))
    for row in campaign.rows.itertuples():
        try:
            store.add(pid, row.enterprise_id, user=user, patent_title=campaign.patent.get("title", ""),
                      enterprise_name=row.name, industry=row.sector, score=float(row.degree),
                      note=note or f"开放许可推广活动（第 {row.rank} 家）")
            added += 1
        except DuplicatePairError:
            dup += 1
    return added, dup


CAMPAIGN_HEADERS = {"rank": "序号", "enterprise_id": "企业编号", "name": "企业名称", "region": "地区", "sector": "产业领域",
                    "degree": "匹配度", "engine_rank": "引擎名次",
                    "licence_fit": "许可匹配", "licence_line": "许可说明"}
SKIPPED_HEADERS = {"enterprise_id": "企业编号", "name": "企业名称", "reason": "跳过原因"}
