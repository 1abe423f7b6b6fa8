"""Outreach tracking against SQLite and a real PostgreSQL server: migrations, workflow, history, locking."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, inspect, text

from matcher.errors import MatcherError
from matcher.tracking import (
    REASONS,
    STATUSES,
    ConcurrentEditError,
    DuplicatePairError,
    TrackingStore,
    TransitionError,
    database_url,
    upgrade_db,
)
from pg import pg_server_url, pg_url  # noqa: F401 - pytest fixtures

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """A fresh, empty tracking database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracking.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture()
def store(db_url):
    s = TrackingStore(db_url)
    yield s
    s.dispose()


def _add(store, p="DEMO-P-001", e="DEMO-D-002", user="editor"):
    return store.add(p, e, user=user, patent_title="一种可降解聚乳酸薄膜", enterprise_name="可降解购物袋薄膜强度提升",
                     industry="新材料-高分子材料", score=4.3)


def test_migrations_create_schema_and_are_idempotent(db_url):
    upgrade_db(db_url)
    upgrade_db(db_url)  # second start-up: nothing to do, no error
    engine = create_engine(db_url)
    try:
        names = set(inspect(engine).get_table_names())
        assert {"outreach_items", "status_changes", "alembic_version"} <= names
        with engine.connect() as conn:
            assert conn.execute(text("select version_num from alembic_version")).scalar() == "0001_initial"
    finally:
        engine.dispose()


def test_full_workflow_to_licence_keeps_every_change(store):
    item = _add(store)
    assert item.status == "待推送" and item.version == 1 and item.owner == "editor"
    steps = ["已推送", "已回复", "洽谈中", "已许可"]
    for step in steps:
        item = store.update(item.id, item.version, user="editor", status=step)
    assert item.status == "已许可" and item.version == 5
    assert item.pushed_at is not None and item.replied_at is not None
    history = store.history(item.id)
    assert [h.to_status for h in history] == ["待推送", *steps]
    assert [h.from_status for h in history] == [None, "待推送", *steps[:-1]]
    assert [h.version for h in history] == [1, 2, 3, 4, 5]
    assert all(h.changed_by == "editor" for h in history)
    assert item.next_statuses == ()
    with pytest.raises(TransitionError):
        store.update(item.id, item.version, user="editor", status="已推送")
    times = store.reply_times()
    assert list(times["id"]) == [item.id] and times["days"].iloc[0] >= 0


def test_transfer_refusal_with_reason_and_reopen(store):
    a = _add(store, "DEMO-P-001", "DEMO-D-001")
    for step in ["已推送", "已回复", "洽谈中", "已转让"]:
        a = store.update(a.id, a.version, user="u", status=step)
    assert a.status == "已转让"
    b = _add(store, "DEMO-P-002", "DEMO-D-001")
    b = store.update(b.id, b.version, user="u", status="已推送")
    with pytest.raises(TransitionError, match="原因"):
        store.update(b.id, b.version, user="u", status="已拒绝")
    with pytest.raises(TransitionError, match="原因"):
        store.update(b.id, b.version, user="u", status="已拒绝", reason="太贵了")
    b = store.update(b.id, b.version, user="u", status="已拒绝", reason="价格", note="预算只有 5 万")
    assert (b.status, b.reason, b.note) == ("已拒绝", "价格", "预算只有 5 万")
    last = store.history(b.id)[-1]
    assert last.reason == "价格" and last.changes["status"] == ["已推送", "已拒绝"] and "note" in last.changes
    b = store.update(b.id, b.version, user="u", status="待推送")
    assert b.status == "待推送" and b.reason is None
    assert set(REASONS) == {"技术不成熟", "需求不符", "价格", "已有方案", "其他"}


def test_disallowed_moves_are_refused(store):
    item = _add(store)
    with pytest.raises(TransitionError, match="不能从「待推送」改为「已许可」"):
        store.update(item.id, item.version, user="u", status="已许可")
    with pytest.raises(TransitionError, match="未知状态"):
        store.update(item.id, item.version, user="u", status="done")
    assert store.get(item.id).version == 1  # nothing changed


def test_field_edits_are_history_entries_and_noop_keeps_version(store):
    item = _add(store)
    due = date.today() + timedelta(days=7)
    item = store.update(item.id, item.version, user="li", owner="李老师", note="先电话联系", next_action=due)
    assert (item.owner, item.note, item.next_action, item.version, item.updated_by) == ("李老师", "先电话联系", due, 2, "li")
    same = store.update(item.id, item.version, user="li", owner="李老师", note="先电话联系", next_action=due)
    assert same.version == 2
    changes = store.history(item.id)[-1].changes
    assert changes["owner"] == ["editor", "李老师"] and changes["next_action"] == [None, due.isoformat()]
    item = store.update(item.id, item.version, user="li", next_action=None)
    assert item.next_action is None and item.version == 3


def test_duplicate_pair_is_refused(store):
    item = _add(store)
    with pytest.raises(DuplicatePairError) as err:
        _add(store)
    assert err.value.item_id == item.id
    assert isinstance(err.value, MatcherError)
    assert store.find("DEMO-P-001", "DEMO-D-002").id == item.id
    assert store.find("DEMO-P-001", "nobody") is None


def test_two_officers_editing_at_once_lose_nothing(db_url):
    """Officer A and B load the same item; B saves first; A's save is refused with a clear message,
    B's change stays, and A's change goes through after a reload."""
    officer_a, officer_b = TrackingStore(db_url), TrackingStore(db_url)
    try:
        item = _add(officer_a)
        seen_by_a = officer_a.get(item.id)
        seen_by_b = officer_b.get(item.id)
        officer_b.update(seen_by_b.id, seen_by_b.version, user="王老师", status="已推送", note="已发邮件")
        with pytest.raises(ConcurrentEditError) as err:
            officer_a.update(seen_by_a.id, seen_by_a.version, user="李老师", note="李老师的备注")
        msg = str(err.value)
        assert "王老师" in msg and "重新加载" in msg and "未保存" in msg
        assert (err.value.expected, err.value.current) == (1, 2)
        now = officer_a.get(item.id)
        assert (now.status, now.note) == ("已推送", "已发邮件")  # B's change is intact
        now = officer_a.update(now.id, now.version, user="李老师", note="已发邮件；李老师电话跟进")
        assert now.version == 3 and now.status == "已推送"
        assert [h.changed_by for h in officer_a.history(item.id)] == ["editor", "王老师", "李老师"]
    finally:
        officer_a.dispose()
        officer_b.dispose()


def test_simultaneous_saves_exactly_one_wins(db_url):
    stores = [TrackingStore(db_url) for _ in range(4)]
    try:
        item = _add(stores[0])
        outcomes: list[str] = []
        barrier = threading.Barrier(len(stores))

        def save(i: int) -> None:
            barrier.wait()
            try:
                stores[i].update(item.id, 1, user=f"officer{i}", note=f"note {i}")
                outcomes.append("ok")
            except ConcurrentEditError:
                outcomes.append("conflict")
            except MatcherError as exc:  # SQLite may report the writer lock as a busy database
                outcomes.append(f"error: {exc}")

        threads = [threading.Thread(target=save, args=(i,)) for i in range(len(stores))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert outcomes.count("ok") == 1, outcomes
        assert outcomes.count("conflict") == len(stores) - 1, outcomes
        final = stores[0].get(item.id)
        assert final.version == 2
        assert len(stores[0].history(item.id)) == 2
    finally:
        for s in stores:
            s.dispose()


def test_overview_queries(store):
    a = _add(store, "DEMO-P-001", "DEMO-D-002")
    b = store.add("DEMO-P-013", "DEMO-D-005", user="u", industry="电子信息-传感器")
    c = store.add("DEMO-P-014", "DEMO-D-006", user="u", industry="")
    a = store.update(a.id, a.version, user="u", status="已推送")
    a = store.update(a.id, a.version, user="u", status="已回复")
    b = store.update(b.id, b.version, user="u", status="已推送")
    b = store.update(b.id, b.version, user="u", status="已拒绝", reason="需求不符")
    funnel = dict(zip(store.funnel()["stage"], store.funnel()["count"]))
    assert funnel == {"待推送": 3, "已推送": 2, "已回复": 1, "洽谈中": 0, "成交": 0}
    by_ind = store.status_by_industry()
    assert set(map(tuple, by_ind[["industry", "status"]].astype(str).values)) == {
        ("新材料", "已回复"), ("电子信息", "已拒绝"), ("未标注", "待推送")}
    assert store.contacted_pairs() == {("DEMO-P-001", "DEMO-D-002"), ("DEMO-P-013", "DEMO-D-005")}
    frame = store.frame()
    assert len(frame) == 3 and set(frame["status"]) <= set(STATUSES)
    assert set(store.pair_status()) == {("DEMO-P-001", "DEMO-D-002"), ("DEMO-P-013", "DEMO-D-005"), ("DEMO-P-014", "DEMO-D-006")}
    assert c.status == "待推送"


def test_database_url_resolution(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert database_url().startswith("sqlite:///") and database_url().endswith("artifacts/tracking.sqlite")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/tt")
    assert database_url() == "postgresql+psycopg://u:p@db:5432/tt"
    assert database_url("postgres://x@h/d") == "postgresql+psycopg://x@h/d"


def test_unreachable_database_is_a_clear_error():
    with pytest.raises(MatcherError, match="cannot prepare the tracking database"):
        TrackingStore("postgresql+psycopg://nobody@127.0.0.1:1/none")
