"""The tracking repository: shortlist pairs, move them through the outreach statuses, keep every change.

Every change names the version of the item it was based on. When another officer changed the item in
the meantime the change is refused with ConcurrentEditError (optimistic locking: nothing is
overwritten, the one who must reload is told so and by whom the item was changed). Writes check the
writer's role here (a viewer's write raises PermissionDeniedError), and database failures become one
DatabaseError with a message for the officer.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from matcher.errors import MatcherError
from matcher.ingest.clean import clean_text
from matcher.tracking.constants import (
    CONTACTED,
    FUNNEL,
    PENDING,
    PUSHED,
    REASONS,
    REJECTED,
    REPLIED,
    STATUSES,
    SUCCESS,
    allowed_next,
)
from matcher.tracking.db import guarded, make_engine, sqlite_file, upgrade_db
from matcher.tracking.models import ItemNote, OutreachItem, StatusChange


class TrackingError(MatcherError):
    """A tracking change that cannot be made (shown to the user as one message)."""


def _beijing(when: datetime) -> datetime:
    """A stored time (naive UTC, or aware) in Beijing time, for the messages officers read."""
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(ZoneInfo("Asia/Shanghai"))


class ConcurrentEditError(TrackingError):
    """The item was changed by someone else since it was loaded; reload it and redo the change.

    Attributes:
        item_id: the item.
        expected: the version the change was based on.
        current: the version in the database now.
        changed_by: who made the latest change.
        changed_at: when (UTC).
    """

    def __init__(self, item_id: int, expected: int, current: int, changed_by: str, changed_at: datetime | None) -> None:
        self.item_id = item_id
        self.expected = expected
        self.current = current
        self.changed_by = changed_by
        self.changed_at = changed_at
        when = f"于 {_beijing(changed_at):%Y-%m-%d %H:%M}（北京时间）" if changed_at else ""
        super().__init__(
            f"该记录已被 {changed_by or '其他用户'} {when}修改（您编辑的是第 {expected} 版，当前为第 {current} 版），"
            "您的修改未保存。请点击「重新加载」查看最新内容后再修改。"
        )


class TransitionError(TrackingError):
    """A status move that the workflow does not allow, or a refusal without a valid reason code."""


class DuplicatePairError(TrackingError):
    """The pair is already on the shortlist."""

    def __init__(self, item_id: int) -> None:
        self.item_id = item_id
        super().__init__(f"该专利与企业的组合已在推送清单中（记录 #{item_id}）")


class NotFoundError(TrackingError):
    """No item with that id."""


class PermissionDeniedError(TrackingError):
    """The user's role may not change tracking (a viewer)."""


class Actor(Protocol):
    """Who makes a change: matcher.auth.User has this shape (login name, display name, role)."""

    @property
    def username(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def can_edit(self) -> bool: ...


log = logging.getLogger("matcher.tracking")
_F = TypeVar("_F", bound=Callable)


def writer(user: Actor | str) -> tuple[str, str]:
    """(display name, login name) of a writer; a plain string is a trusted writer (a script, the CLI, a test).

    Raises:
        PermissionDeniedError: the user may only read.
    """
    if isinstance(user, str):
        return user, user
    if not user.can_edit:
        log.warning("tracking write refused: user %r has a read-only role", user.username)
        raise PermissionDeniedError(f"只读账号（{user.name}）不能修改推送跟踪；如需修改，请联系管理员开通编辑权限。")
    return user.name, user.username


def _db(action: str) -> Callable[[_F], _F]:
    """Run a TrackingStore method with database failures turned into DatabaseError (details in the log)."""

    def wrap(fn: _F) -> _F:
        @functools.wraps(fn)
        def run(self: TrackingStore, *args, **kwargs):
            with guarded(self.engine.url, action):
                return fn(self, *args, **kwargs)

        return run  # type: ignore[return-value]

    return wrap


_UNSET = object()


def utcnow() -> datetime:
    """Naive UTC now (stored as such in both SQLite and PostgreSQL)."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class Item:
    """A snapshot of one outreach item (safe to keep in a UI session)."""

    id: int
    patent_id: str
    enterprise_id: str
    patent_title: str
    enterprise_name: str
    industry: str
    score: float | None
    status: str
    reason: str | None
    owner: str
    note: str
    next_action: date | None
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    pushed_at: datetime | None
    replied_at: datetime | None
    version: int

    @property
    def next_statuses(self) -> tuple[str, ...]:
        return allowed_next(self.status)

    @classmethod
    def of(cls, row: OutreachItem) -> Item:
        return cls(**{f: getattr(row, f) for f in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Change:
    """One history entry (`changed_by`: display name, `changed_by_login`: login name, empty for old entries)."""

    id: int
    item_id: int
    version: int
    from_status: str | None
    to_status: str
    reason: str | None
    changes: dict
    changed_by: str
    changed_at: datetime
    changed_by_login: str = ""


ITEM_COLUMNS = list(Item.__dataclass_fields__)


class TrackingStore:
    """Shortlist and outreach tracking on a SQLAlchemy engine (SQLite file or PostgreSQL).

    Args:
        url: database URL or Engine; None for env DATABASE_URL, else artifacts/tracking.sqlite.
        migrate: run the Alembic migrations first (default True).

    Attributes:
        notice: a message for the officer when the SQLite file did not exist and was created empty (so that a typo in
            DATABASE_URL does not look like an empty shortlist), else None.

    Raises:
        DatabaseError: the database cannot be reached or migrated.
    """

    def __init__(self, url: str | Engine | None = None, *, migrate: bool = True) -> None:
        self.engine = url if isinstance(url, Engine) else make_engine(url)
        path = sqlite_file(self.engine.url)
        missing = path is not None and not path.exists()
        if migrate:
            upgrade_db(self.engine)
        self.notice: str | None = None
        if missing and path.exists():
            self.notice = (f"跟踪数据库文件 {path} 原本不存在，已新建一个空数据库。如果推送清单本应有内容，"
                           "请检查环境变量 DATABASE_URL 是否写错。")
            log.warning("tracking database %s did not exist: created an empty one (check DATABASE_URL)", path)
        self.Session = sessionmaker(self.engine, expire_on_commit=False, future=True)

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ writes
    @_db("add a pair")
    def add(
        self,
        patent_id: str,
        enterprise_id: str,
        *,
        user: Actor | str,
        patent_title: str = "",
        enterprise_name: str = "",
        industry: str = "",
        score: float | None = None,
        owner: str | None = None,
        note: str = "",
        next_action: date | None = None,
    ) -> Item:
        """Put a pair on the shortlist as 待推送 (`user`: the officer, or a name for a trusted script).

        Raises:
            PermissionDeniedError: the user may only read.
            DuplicatePairError: the pair is already on the shortlist.
            DatabaseError: the database cannot be written.
        """
        name, login = writer(user)
        existing = self.find(patent_id, enterprise_id)
        if existing is not None:
            raise DuplicatePairError(existing.id)
        now = utcnow()
        row = OutreachItem(
            patent_id=str(patent_id), enterprise_id=str(enterprise_id), patent_title=patent_title or "",
            enterprise_name=enterprise_name or "", industry=industry or "",
            score=None if score is None else float(score), status=PENDING, reason=None,
            owner=owner if owner is not None else name, note=note or "", next_action=next_action,
            created_by=name, created_at=now, updated_by=name, updated_at=now, version=1,
        )
        try:
            with self.Session.begin() as s:
                s.add(row)
                s.flush()
                s.add(StatusChange(item_id=row.id, version=1, from_status=None, to_status=PENDING, reason=None,
                                   changes=json.dumps({"created": True}, ensure_ascii=False), changed_by=name,
                                   changed_by_login=login, changed_at=now))
                if clean_text(row.note):  # the note thread starts with the note given on adding
                    s.add(ItemNote(item_id=row.id, body=clean_text(row.note), author=name, author_login=login, created_at=now))
        except IntegrityError:
            existing = self.find(patent_id, enterprise_id)
            raise DuplicatePairError(existing.id if existing else -1) from None
        return Item.of(row)

    @_db("update an item")
    def update(
        self,
        item_id: int,
        expected_version: int,
        *,
        user: Actor | str,
        status: str | None = None,
        reason: str | None = None,
        owner: str | None = None,
        note: str | None = None,
        next_action: date | None | object = _UNSET,
    ) -> Item:
        """Change an item that was loaded at `expected_version`; every effective change is kept in the history.

        Args:
            item_id: the item.
            expected_version: the version the user saw.
            user: who makes the change (the officer, or a name for a trusted script).
            status: the new status (must be allowed from the current one; None keeps it).
            reason: the reason code, required when moving to 已拒绝.
            owner, note, next_action: new values (None / unset keeps them; next_action=None clears the date).

        Returns:
            The item after the change (unchanged and same version when nothing differs).

        Raises:
            ConcurrentEditError: the item changed since `expected_version`.
            TransitionError: the status move is not allowed or the reason code is missing / unknown.
            NotFoundError: no such item.
            PermissionDeniedError: the user may only read.
            DatabaseError: the database cannot be written.
        """
        name, login = writer(user)
        now = utcnow()
        with self.Session.begin() as s:
            row = s.get(OutreachItem, item_id)
            if row is None:
                raise NotFoundError(f"推送清单中没有记录 #{item_id}（可能已被删除），请重新加载")
            if row.version != expected_version:
                raise ConcurrentEditError(item_id, expected_version, row.version, row.updated_by, row.updated_at)
            values: dict = {}
            changes: dict = {}
            new_status = status or row.status
            if new_status not in STATUSES:
                raise TransitionError(f"未知状态「{new_status}」，可选：{'、'.join(STATUSES)}")
            if new_status != row.status:
                if new_status not in allowed_next(row.status):
                    allowed = "、".join(allowed_next(row.status)) or "无（已结束）"
                    raise TransitionError(f"不能从「{row.status}」改为「{new_status}」；可改为：{allowed}")
                values["status"] = new_status
                changes["status"] = [row.status, new_status]
                if new_status == PUSHED:
                    values["pushed_at"] = now
                if new_status == REPLIED:
                    values["replied_at"] = now
            if new_status == REJECTED:
                wanted = reason if reason is not None else row.reason
                if wanted not in REASONS:
                    raise TransitionError(f"标记为「已拒绝」时必须选择原因：{'、'.join(REASONS)}")
                if wanted != row.reason:
                    values["reason"] = wanted
                    changes["reason"] = [row.reason, wanted]
            elif row.reason is not None:
                values["reason"] = None
                changes["reason"] = [row.reason, None]
            if owner is not None and owner != row.owner:
                values["owner"] = owner
                changes["owner"] = [row.owner, owner]
            if note is not None and note != row.note:
                values["note"] = note
                changes["note"] = [row.note, note]
            if next_action is not _UNSET and next_action != row.next_action:
                values["next_action"] = next_action
                changes["next_action"] = [_iso(row.next_action), _iso(next_action)]
            if not values:
                return Item.of(row)
            values.update(version=expected_version + 1, updated_by=name, updated_at=now)
            done = s.execute(
                update(OutreachItem)
                .where(OutreachItem.id == item_id, OutreachItem.version == expected_version)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if done.rowcount != 1:  # someone committed between our read and our write
                s.rollback()
                fresh = self.get(item_id)
                raise ConcurrentEditError(item_id, expected_version, fresh.version, fresh.updated_by, fresh.updated_at)
            s.add(StatusChange(item_id=item_id, version=expected_version + 1, from_status=row.status,
                               to_status=new_status, reason=values.get("reason", row.reason if new_status == REJECTED else None),
                               changes=json.dumps(changes, ensure_ascii=False), changed_by=name,
                               changed_by_login=login, changed_at=now))
            if "note" in changes and clean_text(note or ""):  # an edited note field is also kept in the note thread
                s.add(ItemNote(item_id=item_id, body=clean_text(note), author=name, author_login=login, created_at=now))
        return self.get(item_id)

    # ------------------------------------------------------------------ reads
    @_db("read an item")
    def get(self, item_id: int) -> Item:
        """One item (NotFoundError when absent)."""
        with self.Session() as s:
            row = s.get(OutreachItem, item_id, populate_existing=True)
            if row is None:
                raise NotFoundError(f"推送清单中没有记录 #{item_id}")
            return Item.of(row)

    @_db("find a pair")
    def find(self, patent_id: str, enterprise_id: str) -> Item | None:
        """The item of a pair, or None."""
        with self.Session() as s:
            row = s.scalar(select(OutreachItem).where(OutreachItem.patent_id == str(patent_id),
                                                      OutreachItem.enterprise_id == str(enterprise_id)))
            return Item.of(row) if row else None

    @_db("list the shortlist")
    def items(self, statuses: Iterable[str] | None = None) -> list[Item]:
        """All items (optionally of some statuses), most recently changed first."""
        stmt = select(OutreachItem).order_by(OutreachItem.updated_at.desc(), OutreachItem.id.desc())
        if statuses:
            stmt = stmt.where(OutreachItem.status.in_(list(statuses)))
        with self.Session() as s:
            return [Item.of(r) for r in s.scalars(stmt)]

    def frame(self, statuses: Iterable[str] | None = None) -> pd.DataFrame:
        """The items as a DataFrame (columns: the Item fields)."""
        rows = [asdict(i) for i in self.items(statuses)]
        return pd.DataFrame(rows, columns=ITEM_COLUMNS)

    @_db("read the history")
    def history(self, item_id: int) -> list[Change]:
        """Every change of an item, oldest first."""
        with self.Session() as s:
            rows = s.scalars(select(StatusChange).where(StatusChange.item_id == item_id).order_by(StatusChange.id))
            return [Change(r.id, r.item_id, r.version, r.from_status, r.to_status, r.reason,
                           json.loads(r.changes or "{}"), r.changed_by, r.changed_at, r.changed_by_login or "")
                    for r in rows]

    def pair_status(self) -> dict[tuple[str, str], Item]:
        """(patent_id, enterprise_id) -> item, for marking matches that are on the shortlist."""
        return {(i.patent_id, i.enterprise_id): i for i in self.items()}

    @_db("list contacted pairs")
    def contacted_pairs(self) -> set[tuple[str, str]]:
        """Pairs already pushed (any status after 待推送)."""
        with self.Session() as s:
            rows = s.execute(select(OutreachItem.patent_id, OutreachItem.enterprise_id)
                             .where(OutreachItem.status.in_(CONTACTED)))
            return {(p, e) for p, e in rows}

    # ------------------------------------------------------------------ overview
    def status_by_industry(self) -> pd.DataFrame:
        """Current status counts per industry (major category, before '-'): columns industry, status, count."""
        df = self.frame()
        if df.empty:
            return pd.DataFrame(columns=["industry", "status", "count"])
        df["industry"] = df["industry"].map(major_industry)
        out = df.groupby(["industry", "status"]).size().reset_index(name="count")
        out["status"] = pd.Categorical(out["status"], STATUSES, ordered=True)
        return out.sort_values(["industry", "status"]).reset_index(drop=True)

    @_db("count the funnel")
    def funnel(self) -> pd.DataFrame:
        """How many items reached each stage (from the history): columns stage, count.

        Stages are 待推送, 已推送, 已回复, 洽谈中 and 成交 (已许可 or 已转让); an item counts in every stage
        it has passed through, so a later refusal does not remove it from the earlier stages.
        """
        with self.Session() as s:
            rows = s.execute(select(StatusChange.item_id, StatusChange.to_status).distinct()).all()
        reached: dict[str, set[int]] = {stage: set() for stage in (*FUNNEL, "成交")}
        for item_id, status in rows:
            if status in SUCCESS:
                reached["成交"].add(item_id)
            elif status in reached:
                reached[status].add(item_id)
        # every later stage implies the earlier ones (an item may be edited straight to a later stage by a migration)
        order = [*FUNNEL, "成交"]
        for i in range(len(order) - 2, -1, -1):
            reached[order[i]] |= reached[order[i + 1]]
        return pd.DataFrame({"stage": order, "count": [len(reached[s]) for s in order]})

    def reply_times(self) -> pd.DataFrame:
        """Time from push to reply of the items that got a reply: columns id, industry, pushed_at, replied_at, days."""
        df = self.frame()
        df = df[df["pushed_at"].notna() & df["replied_at"].notna()].copy()
        if df.empty:
            return pd.DataFrame(columns=["id", "industry", "pushed_at", "replied_at", "days"])
        df["industry"] = df["industry"].map(major_industry)
        df["days"] = (pd.to_datetime(df["replied_at"]) - pd.to_datetime(df["pushed_at"])).dt.total_seconds() / 86400.0
        return df[["id", "industry", "pushed_at", "replied_at", "days"]].reset_index(drop=True)


def major_industry(value: object) -> str:
    """The major category of an industry label ("新材料-膜材料" -> "新材料"; empty -> "未标注")."""
    text = str(value or "").strip()
    if not text or text.lower() == "nan":
        return "未标注"
    return text.split("-")[0].strip() or "未标注"


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
