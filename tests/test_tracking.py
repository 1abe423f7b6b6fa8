"""Outreach tracking against SQLite and a real PostgreSQL server: migrations, workflow, history, locking."""

from __future__ import annotations

import logging
import threading
from datetime import date, timedelta

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import Session

from matcher.auth import User
from matcher.errors import MatcherError
from matcher.tracking import (
    REASONS,
    STATUSES,
    ConcurrentEditError,
    DatabaseError,
    DuplicatePairError,
    OutreachItem,
    PermissionDeniedError,
    TrackingStore,
    TermsConflictError,
    TrackingError,
    TransitionError,
    add_note,
    current_terms,
    database_url,
    due_items,
    make_engine,
    notes,
    overdue_count,
    set_terms,
    terms_history,
    update_many,
    upgrade_db,
)
from matcher.tracking.db import alembic_config
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
            assert conn.execute(text("select version_num from alembic_version")).scalar() == "0003_notes_and_terms"
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


WANG = User("wang", "王老师", "editor")
LI = User("li", "李老师", "editor")
VIEWER = User("zhao", "赵老师", "viewer")


def test_two_officers_editing_at_once_lose_nothing(db_url):
    """Officer A and B load the same item; B saves first; A's save is refused with a clear message,
    B's change stays, and A's change goes through after a reload."""
    officer_a, officer_b = TrackingStore(db_url), TrackingStore(db_url)
    try:
        item = _add(officer_a)
        seen_by_a = officer_a.get(item.id)
        seen_by_b = officer_b.get(item.id)
        officer_b.update(seen_by_b.id, seen_by_b.version, user=WANG, status="已推送", note="已发邮件")
        with pytest.raises(ConcurrentEditError) as err:
            officer_a.update(seen_by_a.id, seen_by_a.version, user=LI, note="李老师的备注")
        msg = str(err.value)
        assert "王老师" in msg and "重新加载" in msg and "未保存" in msg
        assert (err.value.expected, err.value.current) == (1, 2)
        now = officer_a.get(item.id)
        assert (now.status, now.note) == ("已推送", "已发邮件")  # B's change is intact
        now = officer_a.update(now.id, now.version, user=LI, note="已发邮件；李老师电话跟进")
        assert now.version == 3 and now.status == "已推送"
        history = officer_a.history(item.id)
        assert [h.changed_by for h in history] == ["editor", "王老师", "李老师"]
        assert [h.changed_by_login for h in history] == ["editor", "wang", "li"]
        assert [h.changes.get("note") for h in history[1:]] == [["", "已发邮件"], ["已发邮件", "已发邮件；李老师电话跟进"]]
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


# ----------------------------------------------------------------------------- roles
def test_a_viewers_write_is_refused_by_the_service(store, caplog):
    item = store.add("DEMO-P-001", "DEMO-D-002", user=WANG)
    with caplog.at_level(logging.WARNING, logger="matcher.tracking"):
        with pytest.raises(PermissionDeniedError, match="只读账号（赵老师）不能修改推送跟踪"):
            store.update(item.id, item.version, user=VIEWER, status="已推送")
        with pytest.raises(PermissionDeniedError):
            store.add("DEMO-P-002", "DEMO-D-002", user=VIEWER)
    assert "'zhao'" in caplog.text
    assert store.get(item.id).version == 1 and len(store.items()) == 1 and len(store.history(item.id)) == 1
    assert (store.get(item.id).created_by, store.history(item.id)[0].changed_by_login) == ("王老师", "wang")


# ----------------------------------------------------------------------------- append-only history
def _refused(engine, statement: str) -> str:
    """The database's refusal of `statement` (fails the test when it is accepted)."""
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    except Exception as exc:  # noqa: BLE001 - the driver's error
        return str(getattr(exc, "orig", exc))
    raise AssertionError(f"accepted: {statement}")


def test_history_is_append_only(store, db_url):
    item = _add(store)
    item = store.update(item.id, item.version, user=WANG, status="已推送")
    engine = make_engine(db_url)
    try:
        assert "append-only" in _refused(engine, "UPDATE status_changes SET changed_by = 'someone else'")
        assert "append-only" in _refused(engine, f"DELETE FROM status_changes WHERE item_id = {item.id}")
        if engine.dialect.name == "postgresql":
            assert "append-only" in _refused(engine, "TRUNCATE status_changes")
        # an item with history cannot be deleted (no cascade): not by SQL, not through the ORM
        assert _refused(engine, f"DELETE FROM outreach_items WHERE id = {item.id}")
        with pytest.raises(Exception), Session(engine) as s, s.begin():  # noqa: B017, PT011 - the driver's error
            s.delete(s.get(OutreachItem, item.id))
    finally:
        engine.dispose()
    assert [h.to_status for h in store.history(item.id)] == ["待推送", "已推送"]
    assert [h.changed_by for h in store.history(item.id)] == ["editor", "王老师"]


def test_migration_0002_keeps_old_history_and_downgrades(db_url):
    upgrade_db(db_url, "0001_initial")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO outreach_items (id, patent_id, enterprise_id, patent_title, enterprise_name, "
                              "industry, status, owner, note, created_by, created_at, updated_by, updated_at, version) "
                              "VALUES (1, 'P', 'E', '', '', '', '待推送', '', '', '老用户', '2025-01-01', '老用户', '2025-01-01', 1)"))
            conn.execute(text("INSERT INTO status_changes (item_id, version, to_status, changes, changed_by, changed_at) "
                              "VALUES (1, 1, '待推送', '{}', '老用户', '2025-01-01')"))
        store = TrackingStore(engine)  # upgrades to head
        [old] = store.history(1)
        assert (old.changed_by, old.changed_by_login, old.to_status) == ("老用户", "", "待推送")
        assert "append-only" in _refused(engine, "DELETE FROM status_changes")
        cfg = alembic_config(db_url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001_initial")
        assert "changed_by_login" not in {c["name"] for c in inspect(engine).get_columns("status_changes")}
        with engine.begin() as conn:  # 0001 again: the cascade is back, the triggers are gone
            conn.execute(text("DELETE FROM outreach_items WHERE id = 1"))
            assert conn.execute(text("SELECT count(*) FROM status_changes")).scalar() == 0
        _add(TrackingStore(engine))  # upgrades to head again
        assert "append-only" in _refused(engine, "UPDATE status_changes SET version = 2")
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------- database failures
def test_read_only_database_reads_and_refuses_writes_in_chinese(tmp_path, caplog):
    path = tmp_path / "tracking.sqlite"
    writer = TrackingStore(f"sqlite:///{path}")
    item = _add(writer)
    writer.dispose()
    reader = TrackingStore(f"sqlite:///file:{path}?mode=ro&uri=true")  # URI-style URL, opened read-only
    try:
        assert reader.notice is None and [i.id for i in reader.items()] == [item.id]
        with caplog.at_level(logging.ERROR, logger="matcher.tracking"):
            with pytest.raises(DatabaseError) as err:
                reader.update(item.id, item.version, user=WANG, status="已推送")
        assert "只读" in str(err.value) and "未保存" in str(err.value) and "Error" not in str(err.value)
        assert "read-only" in err.value.english and "OperationalError" in caplog.text  # details in the log
    finally:
        reader.dispose()
    assert TrackingStore(f"sqlite:///{path}").get(item.id).version == 1
    assert not (tmp_path / "file:").exists() and not any("file:" in p.name for p in tmp_path.iterdir())


def test_database_of_a_newer_schema_is_a_chinese_message(tmp_path):
    url = f"sqlite:///{tmp_path / 'tracking.sqlite'}"
    _add(TrackingStore(url))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    with pytest.raises(DatabaseError, match="结构版本比本程序新") as err:
        TrackingStore(url)
    assert "0099_from_the_future" in err.value.english
    with engine.connect() as conn:  # nothing was changed
        assert conn.execute(text("SELECT count(*) FROM outreach_items")).scalar() == 1
    engine.dispose()


def test_unreachable_database_is_a_clear_error():
    with pytest.raises(DatabaseError, match="无法连接跟踪数据库 postgresql\\+psycopg://nobody@127.0.0.1:1/none") as err:
        TrackingStore("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert "cannot connect" in err.value.english and isinstance(err.value, MatcherError)


def test_missing_sqlite_file_is_created_with_a_notice(tmp_path):
    path = tmp_path / "new" / "trackng.sqlite"
    first = TrackingStore(f"sqlite:///{path}")
    assert path.is_file() and str(path) in first.notice and "DATABASE_URL" in first.notice
    first.dispose()
    assert TrackingStore(f"sqlite:///{path}").notice is None
    uri = TrackingStore(f"sqlite:///file:{path}?mode=rw&uri=true")
    assert uri.notice is None and uri.items() == []
    with pytest.raises(DatabaseError, match="无法打开跟踪数据库文件"):  # mode=rw never creates a file
        TrackingStore(f"sqlite:///file:{tmp_path / 'typo.sqlite'}?mode=rw&uri=true")
    assert not (tmp_path / "typo.sqlite").exists()


# ----------------------------------------------------------------------------- notes, terms, follow-ups, batch changes
def test_notes_are_a_thread_with_author_and_time_and_old_notes_are_migrated(db_url):
    upgrade_db(db_url, "0002_append_only_history")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:  # an item of the old schema with its single overwritten note
            conn.execute(text("INSERT INTO outreach_items (id, patent_id, enterprise_id, patent_title, enterprise_name, "
                              "industry, status, owner, note, created_by, created_at, updated_by, updated_at, version) "
                              "VALUES (1, 'P', 'E', '', '', '', '待推送', '', '老备注：已电话联系', '老用户', '2025-01-01', "
                              "'老用户', '2025-01-02 03:04:05', 1)"))
        store = TrackingStore(engine)  # upgrades to head: the old note opens the thread
        [old] = notes(store, 1)
        assert (old.body, old.author, str(old.created_at)) == ("老备注：已电话联系", "老用户", "2025-01-02 03:04:05")
        second = add_note(store, 1, "  对方要求寄样品  ", user=WANG)
        item = store.get(1)
        assert item.version == 1  # a note never conflicts with an edit of the item
        store.update(1, 1, user="editor", note="表单里改的备注")  # the form's note field feeds the thread too
        thread = notes(store, 1)
        assert [n.body for n in thread] == ["老备注：已电话联系", "对方要求寄样品", "表单里改的备注"]
        assert (second.author, second.author_login) == ("王老师", "wang") and thread[2].author == "editor"
        with pytest.raises(TrackingError, match="为空"):
            add_note(store, 1, "   ", user=WANG)
        with pytest.raises(PermissionDeniedError):
            add_note(store, 1, "只读", user=VIEWER)
        assert "append-only" in _refused(engine, "UPDATE item_notes SET body = 'x'")
        assert "append-only" in _refused(engine, "DELETE FROM item_notes")
    finally:
        engine.dispose()


def test_patent_terms_are_versioned_with_conflict_check(store, db_url):
    assert current_terms(store) == {}
    first = set_terms(store, "DEMO-P-001", 0, user=WANG, license_mode="开放许可", price="8万元", maturity="通过中试")
    set_terms(store, "DEMO-P-002", 0, user="editor", license_mode="独占")
    second = set_terms(store, "DEMO-P-001", 1, user="editor", license_mode="先使用后付费", price="面议", maturity="已有样品")
    assert (first.version, second.version) == (1, 2)
    now = current_terms(store)
    assert now["DEMO-P-001"].values() == {"license_mode": "先使用后付费", "price": "面议", "maturity": "已有样品"}
    assert now["DEMO-P-002"].license_mode == "独占" and set(current_terms(store, ["DEMO-P-002"])) == {"DEMO-P-002"}
    assert [t.changed_by for t in terms_history(store, "DEMO-P-001")] == ["王老师", "editor"]
    with pytest.raises(TermsConflictError, match="第 1 版.*第 2 版"):  # a second editor on the old version
        set_terms(store, "DEMO-P-001", 1, user=WANG, license_mode="普通")
    with pytest.raises(TrackingError, match="许可方式"):
        set_terms(store, "DEMO-P-001", 2, user=WANG, license_mode="白送")
    with pytest.raises(PermissionDeniedError):
        set_terms(store, "DEMO-P-001", 2, user=VIEWER, license_mode="普通")
    assert len(terms_history(store, "DEMO-P-001")) == 2
    engine = make_engine(db_url)
    try:
        assert "append-only" in _refused(engine, "UPDATE patent_terms SET price = '0'")
    finally:
        engine.dispose()


def test_follow_up_list_is_this_week_and_overdue_of_open_items(store):
    today = date(2026, 12, 3)  # a Thursday: the week ends on Sunday the 6th
    rows = {}
    for n, (days, status) in enumerate([(-3, "待推送"), (0, "待推送"), (3, "待推送"), (4, "待推送"), (-10, "待推送"),
                                        (-1, "已拒绝"), (None, "待推送")]):
        item = _add(store, p=f"P{n}", e="E")
        nxt = None if days is None else today + timedelta(days=days)
        if status == "已拒绝":
            item = store.update(item.id, item.version, user="editor", status="已拒绝", reason="价格")
        rows[n] = store.update(item.id, item.version, user="editor", next_action=nxt)
    due = due_items(store, today)
    assert [i.patent_id for i in due] == ["P4", "P0", "P1", "P2"]  # most overdue first; Monday after and closed ones out
    assert overdue_count(store, today) == 2


def test_batch_changes_are_versioned_one_by_one(store):
    a, b, c = (_add(store, p=p) for p in ("P1", "P2", "P3"))
    c = store.update(c.id, c.version, user="editor", status="已推送")
    stale_b = b
    store.update(b.id, b.version, user=WANG, owner="李老师")  # someone changed b meanwhile
    out = update_many(store, [(a.id, a.version), (stale_b.id, stale_b.version), (c.id, c.version)], user=WANG,
                      status="已推送", owner="王老师")
    assert [i.id for i in out.changed] == [a.id, c.id]  # c: only the owner changed (already 已推送)
    assert [f[0] for f in out.failed] == [b.id] and "第 1 版" in out.failed[0][1]
    assert store.get(a.id).status == "已推送" and store.get(a.id).owner == "王老师" and store.get(a.id).version == 2
    assert store.history(a.id)[-1].changes == {"status": ["待推送", "已推送"], "owner": ["editor", "王老师"]}
    with pytest.raises(PermissionDeniedError):
        update_many(store, [(a.id, 2)], user=VIEWER, owner="x")
