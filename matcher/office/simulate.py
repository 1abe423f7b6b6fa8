"""A seeded simulator of officers and firms (模拟): a replayable outcome log for demonstrating outcome learning.

Nothing it writes is real feedback: every item it puts in a tracking database is owned by 模拟专员 and noted 模拟数据.

The hidden world, drawn once from the seed:
- each patent is immature with probability `immature_share`; a firm offered an immature patent refuses it as
  技术不成熟 with probability 0.8;
- each firm already has a solution with probability `solved_share`, for the topic of its best-matching patent: offered a
  patent whose stored vector is at least 0.8 similar to that one, it refuses as 已有方案 with probability 0.9;
- otherwise a firm replies with probability sigmoid(4 x (0.8 x dense' + 0.2 x bm25') - 2.4), where dense' and bm25' are
  the pair's dense and BM25 scores scaled to 0-1 within the firm's candidate list (firms care about what the
  technology does more than about shared words); a reply becomes 洽谈中 with probability 0.6 and 洽谈中 becomes 已许可 with
  probability 0.5; a firm that does not reply refuses as 需求不符 (0.5), 价格 (0.2), or stays 已推送.
Each week the officers push the top `per_enterprise` patents of `enterprises_per_week` firms drawn at random, never a
pair pushed before.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.office.demands import demand_mask
from matcher.schema import Kind
from matcher.tracking import LICENSED, NEGOTIATING, PUSHED, REJECTED, REPLIED, TrackingStore

SIMULATED_NOTE = "模拟数据：由 matcher outcomes simulate 生成，非真实反馈"
LOG_COLUMNS = ["week", "officer", "enterprise_id", "patent_id", "engine_rank", "score", "dense", "bm25", "items",
               "status", "reason", "simulated"]


@dataclass(frozen=True)
class SimulationSettings:
    """The simulator's knobs (all documented in the module docstring).

    Attributes:
        seed: the random seed (the same seed and index give the same log).
        weeks: weeks simulated.
        enterprises_per_week: firms pushed to each week.
        per_enterprise: patents pushed to each of them.
        immature_share: share of patents that are immature.
        solved_share: share of firms that already have a solution.
        officers: officers taking turns.
        depth: candidates ranked per firm (the top `per_enterprise` not pushed before are pushed).
        demands_only: push only to demand records (else to every enterprise record).
    """

    seed: int = 7
    weeks: int = 8
    enterprises_per_week: int = 40
    per_enterprise: int = 3
    immature_share: float = 0.25
    solved_share: float = 0.15
    officers: int = 3
    depth: int = 30
    demands_only: bool = True


def _scaled(values: np.ndarray) -> np.ndarray:
    span = values.max() - values.min() if len(values) else 0.0
    return (values - values.min()) / span if span > 0 else np.full(len(values), 0.5)


def simulate(matcher: Matcher, settings: SimulationSettings = SimulationSettings()) -> pd.DataFrame:
    """Run the simulator over an index.

    Args:
        matcher: a loaded engine with patents and enterprises.
        settings: the knobs.

    Returns:
        The outcome log (LOG_COLUMNS), one row per push, in week order; `simulated` is always True.

    Raises:
        MatcherError: the index has no patents or no firms to push to.
    """
    if not matcher.has(Kind.PATENT) or not matcher.has(Kind.ENTERPRISE):
        raise MatcherError("the simulator needs an index with patents and enterprises")
    rng = np.random.default_rng(settings.seed)
    records = matcher.collection(Kind.ENTERPRISE).records
    firms = records["id"][demand_mask(records)].tolist() if settings.demands_only else records["id"].tolist()
    if not firms:
        raise MatcherError("no demand records to push to (use demands_only=False for every enterprise)")
    patents = matcher.collection(Kind.PATENT)
    immature = {p for p in patents.ids if rng.random() < settings.immature_share}
    solved = {f for f in sorted(firms) if rng.random() < settings.solved_share}
    pvecs = patents.vectors(patents.ids)
    pvecs = pvecs / np.maximum(np.linalg.norm(pvecs, axis=1, keepdims=True), 1e-9)
    prow = {p: i for i, p in enumerate(patents.ids)}
    pushed: set[tuple[str, str]] = set()
    topic: dict[str, np.ndarray] = {}
    rows = []
    for week in range(1, settings.weeks + 1):
        chosen = rng.choice(len(firms), size=min(settings.enterprises_per_week, len(firms)), replace=False)
        queries = [matcher.query_for(Kind.ENTERPRISE, firms[i]) for i in sorted(chosen)]
        for n, res in enumerate(matcher.search(queries, Kind.PATENT, k=settings.depth, explain=False)):
            firm = res.query.id
            if not res.matches:
                continue
            if firm in solved and firm not in topic:
                topic[firm] = pvecs[prow[res.matches[0].target_id]]
            dense = _scaled(np.array([m.components.get("dense", 0.0) for m in res.matches]))
            bm25 = _scaled(np.array([m.components.get("bm25", 0.0) for m in res.matches]))
            fresh = [i for i, m in enumerate(res.matches) if (m.target_id, firm) not in pushed][: settings.per_enterprise]
            for i in fresh:
                m = res.matches[i]
                pushed.add((m.target_id, firm))
                status, reason = PUSHED, ""
                u = rng.random(4)
                if m.target_id in immature and u[0] < 0.8:
                    status, reason = REJECTED, "技术不成熟"
                elif firm in topic and float(pvecs[prow[m.target_id]] @ topic[firm]) >= 0.8 and u[0] < 0.9:
                    status, reason = REJECTED, "已有方案"
                elif u[1] < 1.0 / (1.0 + np.exp(-(4.0 * (0.8 * dense[i] + 0.2 * bm25[i]) - 2.4))):
                    status = REPLIED
                    if u[2] < 0.6:
                        status = NEGOTIATING
                        if u[3] < 0.5:
                            status = LICENSED
                elif u[2] < 0.5:
                    status, reason = REJECTED, "需求不符"
                elif u[2] < 0.7:
                    status, reason = REJECTED, "价格"
                rows.append({"week": week, "officer": f"模拟专员{(n % settings.officers) + 1}", "enterprise_id": firm,
                             "patent_id": m.target_id, "engine_rank": m.rank, "score": round(float(m.score), 6),
                             "dense": round(float(m.components.get("dense", 0.0)), 6),
                             "bm25": round(float(m.components.get("bm25", 0.0)), 6),
                             "items": round(float(m.components.get("items", 0.0)), 6),
                             "status": status, "reason": reason, "simulated": True})
    log = pd.DataFrame(rows, columns=LOG_COLUMNS)
    log.attrs["settings"] = asdict(settings)
    return log


_PATH = {PUSHED: [PUSHED], REPLIED: [PUSHED, REPLIED], NEGOTIATING: [PUSHED, REPLIED, NEGOTIATING],
         LICENSED: [PUSHED, REPLIED, NEGOTIATING, LICENSED], REJECTED: [PUSHED, REJECTED]}


def replay(log: pd.DataFrame, store: TrackingStore, matcher: Matcher | None = None) -> int:
    """Write an outcome log into a tracking database, each pair moved through the statuses to its outcome by its
    simulated officer, noted 模拟数据 (pairs already there are left alone).

    Args:
        log: the `simulate` log (or one read back from its CSV).
        store: the tracking store (use a separate database for simulations).
        matcher: when given, titles and names are filled from the index.

    Returns:
        How many pairs were written.

    Raises:
        MatcherError: the log lacks columns or names a status it cannot replay.
    """
    missing = [c for c in ("officer", "enterprise_id", "patent_id", "status", "reason") if c not in log]
    if missing:
        raise MatcherError(f"the outcome log lacks the column(s) {missing}")
    bad = sorted(set(log["status"]) - set(_PATH))
    if bad:
        raise MatcherError(f"the outcome log names statuses the replay cannot reach: {bad}")
    written = 0
    for row in log.itertuples():
        pid, eid = str(row.patent_id), str(row.enterprise_id)
        if store.find(pid, eid) is not None:
            continue
        title = name = ""
        if matcher is not None:
            title = matcher.collection(Kind.PATENT).record(pid).get("title", "") if pid in matcher.collection(Kind.PATENT) else ""
            name = matcher.collection(Kind.ENTERPRISE).record(eid).get("name", "") if eid in matcher.collection(Kind.ENTERPRISE) else ""
        item = store.add(pid, eid, user=row.officer, patent_title=title, enterprise_name=name,
                         score=float(getattr(row, "score", 0.0) or 0.0), note=SIMULATED_NOTE)
        for status in _PATH[row.status]:
            reason = row.reason if status == REJECTED and isinstance(row.reason, str) and row.reason else None
            item = store.update(item.id, item.version, user=row.officer, status=status, reason=reason)
        written += 1
    return written
