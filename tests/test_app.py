"""Streamlit AppTest tests of the workbench: login gate, every page, and the whole tracking workflow.

The engine runs on the demo index built by the conftest fixture (fast test encoder, per-session embedding
cache); the tracking workflow runs against SQLite and a real PostgreSQL server (tests/pg.py).
"""

from __future__ import annotations

import io
import os
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from threadpoolctl import OpenBLASController, threadpool_info, threadpool_limits

from matcher.engine import Matcher
from matcher.export import NightlyJob
from matcher.workbench.export import to_csv_bytes, to_xlsx_bytes
from matcher.workbench.frames import PAIR_COLUMNS, SHORTLIST_COLUMNS
from matcher.workbench.highlight import highlight_terms
from pg import pg_server_url, pg_url  # noqa: F401 - pytest fixtures

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
USERS = ROOT / "config" / "users.example.toml"
EDITOR = ("editor", "demo-editor-2024")
VIEWER = ("viewer", "demo-viewer-2024")
TRACKING = "matcher/workbench/page_files/tracking.py"
OVERVIEW = "matcher/workbench/page_files/overview.py"
BROWSE = "matcher/workbench/page_files/browse.py"
BATCH = "matcher/workbench/page_files/batch.py"
TIMEOUT = 180


@pytest.fixture()
def app_env(monkeypatch, demo_index, cache_dir, tmp_path):
    """Environment of the app: demo index, session embedding cache, demo users, a fresh SQLite tracking DB."""
    monkeypatch.setenv("MATCHER_INDEX_DIR", str(demo_index))
    monkeypatch.setenv("MATCHER_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("MATCHER_USERS_FILE", str(USERS))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'tracking.sqlite'}")
    monkeypatch.delenv("MATCHER_CONFIG", raising=False)
    monkeypatch.setattr("matcher.auth.throttle._default", None)  # each test starts with no failed logins counted
    return monkeypatch


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def login(at: AppTest, who: tuple[str, str] = EDITOR) -> AppTest:
    at.run()
    at.text_input(key="login_user").input(who[0])
    at.text_input(key="login_password").input(who[1])
    _button(at, "登录").click()
    at.run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r}: {[b.label for b in at.button]}"
    return found[0]


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.caption]
    parts += [str(x.value) for kind in ("error", "warning", "info", "success") for x in getattr(at, kind)]
    return "\n".join(parts)


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def pick_patent(at: AppTest, patent: str) -> AppTest:
    """Switch to patent -> enterprises and rank for one stored patent."""
    at.radio(key="mode").set_value("patent")
    at.run()
    at.selectbox(key="q_patent").select(patent)
    at.run()
    _no_errors(at)
    return at


def pick_demand(at: AppTest, demand: str = "DEMO-D-002") -> AppTest:
    at.selectbox(key="q_enterprise").select(demand)
    at.run()
    _no_errors(at)
    return at


# ----------------------------------------------------------------------------- access
def test_without_login_nothing_of_the_data_is_shown(app_env):
    at = new_app()
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["专利–企业匹配工作台"]
    assert not at.dataframe and not at.selectbox and not at.get("plotly_chart")
    assert "DEMO-" not in _texts(at)
    at.text_input(key="login_user").input("editor")
    at.text_input(key="login_password").input("wrong password")
    _button(at, "登录").click()
    at.run()
    assert [e.value for e in at.error] == ["用户名或密码错误"]
    assert not at.selectbox and "DEMO-" not in _texts(at)
    # asking for a page directly still gives the login form only
    at.switch_page(TRACKING).run()
    assert not at.exception and not at.dataframe and not at.selectbox
    assert [t.value for t in at.title] == ["专利–企业匹配工作台"] and "DEMO-" not in _texts(at)


def test_missing_users_file_is_a_clear_message(app_env, tmp_path):
    app_env.setenv("MATCHER_USERS_FILE", str(tmp_path / "nope.toml"))
    at = new_app()
    at.run()
    assert not at.exception
    assert "未找到用户配置文件" in at.error[0].value
    assert not at.text_input


def test_empty_login_form_asks_for_both(app_env):
    at = new_app()
    at.run()
    _button(at, "登录").click()
    at.run()
    assert [e.value for e in at.error] == ["请输入用户名和密码"]
    at.text_input(key="login_user").input("editor")
    _button(at, "登录").click()
    at.run()
    assert [e.value for e in at.error] == ["请输入用户名和密码"] and not at.exception


def _try_login(at: AppTest, who: tuple[str, str]) -> str:
    at.text_input(key="login_user").input(who[0])
    at.text_input(key="login_password").input(who[1])
    _button(at, "登录").click()
    at.run()
    assert not at.exception
    return " ".join(e.value for e in at.error)


def test_failed_logins_lock_the_name_across_sessions(app_env):
    """Three wrong passwords lock the name: the right one is then refused, in this session and in a new one."""
    from matcher.auth import Limits, LoginThrottle

    app_env.setattr("matcher.auth.throttle._default", LoginThrottle(Limits(max_failures=3, free_failures=3)))
    at = new_app()
    at.run()
    assert [_try_login(at, ("editor", f"guess {i}")) for i in range(3)] == ["用户名或密码错误"] * 3
    assert "锁定" in _try_login(at, EDITOR) and "DEMO-" not in _texts(at)
    other = new_app()
    other.run()
    assert "锁定" in _try_login(other, EDITOR)
    assert "锁定" in _try_login(at, VIEWER)  # this session (the client) is locked for every name
    assert not _try_login(new_app().run(), VIEWER)  # another client, another name: signed in
    assert "DEMO-" not in _texts(other) and at.text_input(key="login_user") is not None


def _users_file(tmp_path, **roles: str) -> Path:
    """A users file with the demo accounts' hashes under the given roles (name -> role); absent names are removed."""
    import tomllib

    demo = tomllib.loads(USERS.read_text(encoding="utf-8"))["users"]
    path = tmp_path / "users.toml"
    text = "".join(f'[users.{n}]\nname = "{demo[n]["name"]}"\nrole = "{r}"\npassword_hash = "{demo[n]["password_hash"]}"\n'
                   for n, r in roles.items())
    stamp = path.stat().st_mtime + 5 if path.exists() else None
    path.write_text(text, encoding="utf-8")
    if stamp:  # a new modification time even within the file system's time resolution
        os.utime(path, (stamp, stamp))
    return path


def test_removed_user_or_changed_role_takes_effect_at_once(app_env, tmp_path):
    app_env.setenv("MATCHER_USERS_FILE", str(_users_file(tmp_path, editor="editor", viewer="viewer")))
    at = pick_demand(login(new_app()))
    at.button(key="add_DEMO-P-001_DEMO-D-002").click()
    at.run()
    _no_errors(at)
    push = at.button(key="move_DEMO-P-001_DEMO-D-002_已推送")  # on screen while the officer is still an editor
    _users_file(tmp_path, editor="viewer", viewer="viewer")  # the editor becomes a viewer
    push.click()
    at.run()  # the button's callback reaches the tracking service, which refuses the viewer
    assert not at.exception
    assert "只读账号（演示编辑（技术经理人））不能修改推送跟踪" in at.error[0].value
    assert "跟踪状态：**待推送**" in _texts(at) and "（只读）" in _texts(at)
    assert not [b for b in at.button if b.label == "加入推送清单" or b.label.startswith("标记为")]
    _users_file(tmp_path, viewer="viewer")  # the account is removed
    at.run()
    assert not at.exception and not at.dataframe and "DEMO-" not in _texts(at)
    assert "已被删除" in at.warning[0].value and at.text_input(key="login_user") is not None


def test_demo_accounts_are_pointed_out_to_editors(app_env):
    editor = login(new_app())
    assert any("管理员注意" in w.value and "演示账号" in w.value for w in editor.sidebar.warning)
    viewer = login(new_app(), VIEWER)
    assert not [w for w in viewer.sidebar.warning if "管理员注意" in w.value]


def _stored_item(url: str) -> int:
    from matcher.tracking import TrackingStore

    store = TrackingStore(url)
    item = store.add("DEMO-P-001", "DEMO-D-002", user="editor")
    store.dispose()
    return item.id


def test_read_only_database_refuses_saves_with_a_message(app_env, tmp_path):
    path = tmp_path / "tracking.sqlite"
    item_id = _stored_item(f"sqlite:///{path}")
    app_env.setenv("DATABASE_URL", f"sqlite:///file:{path}?mode=ro&uri=true")
    at = login(new_app())
    at.switch_page(TRACKING).run()
    _no_errors(at)
    at.selectbox(key="t_item").select(item_id)
    at.run()
    at.text_area(key=f"e_note_{item_id}_1").input("只读库里的备注")
    _button(at, "保存修改").click()
    at.run()
    assert not at.exception
    assert any("只读" in e.value and "未保存" in e.value for e in at.error), [e.value for e in at.error]
    assert "Traceback" not in _texts(at) and "OperationalError" not in _texts(at)


@pytest.mark.parametrize("problem", ["newer schema", "no server", "missing file"])
def test_database_problems_are_messages(app_env, tmp_path, problem):
    if problem == "newer schema":
        url = f"sqlite:///{tmp_path / 'tracking.sqlite'}"
        _stored_item(url)
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
        engine.dispose()
        app_env.setenv("DATABASE_URL", url)
    elif problem == "no server":
        app_env.setenv("DATABASE_URL", "postgresql://nobody:secret@127.0.0.1:1/tracking")
    else:
        app_env.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'trakcing.sqlite'}")  # a typo: a new, empty file
    at = login(new_app())
    at.switch_page(TRACKING).run()
    assert not at.exception
    shown = _texts(at)
    expected = {"newer schema": "结构版本比本程序新", "no server": "无法连接跟踪数据库", "missing file": "已新建一个空数据库"}[problem]
    assert expected in shown, shown
    assert "Traceback" not in shown and "secret" not in shown and "Error:" not in shown


def test_logout(app_env):
    at = login(new_app())
    at.button(key="logout").click()
    at.run()
    assert at.text_input(key="login_user") is not None
    assert "DEMO-" not in _texts(at)


def test_broken_index_is_a_message_not_a_traceback(app_env, tmp_path):
    app_env.setenv("MATCHER_INDEX_DIR", str(tmp_path / "no-index"))
    at = login(new_app())
    assert not at.exception
    assert "匹配引擎无法加载" in at.error[0].value and "matcher build" in at.info[0].value


# ----------------------------------------------------------------------------- browse
def test_enterprise_to_patents_cards(app_env):
    at = pick_demand(login(new_app()))
    text = _texts(at)
    assert "共 60 条专利符合筛选条件，显示 10 条" in text
    cards = [m.value for m in at.markdown if m.value.startswith("#### #")]
    assert len(cards) == 10 and cards[0].startswith("#### #1 一种可降解聚乳酸薄膜") and "DEMO-P-001" in cards[0]
    # 匹配度 with its components in words, shared terms highlighted in both texts, closest sentence, patent metadata
    assert {m.label for m in at.metric} == {"匹配度"}
    degrees = [int(m.value) for m in at.metric]
    assert all(0 <= d <= 100 for d in degrees) and degrees[0] == max(degrees)
    assert "语义相近：高" in text and "关键词重合：" in text and "匹配度（0–100）" in text
    assert "<mark>购物袋</mark>" in text and "<mark>可降解</mark>" in text
    both = [m.value for m in at.markdown if m.value.startswith("<div class='mw-text'>")][:2]
    assert all("<mark>" in b for b in both)
    assert re.search(r"最相关专利句：[^<]*<mark>", text) and "<mark>撕裂</mark>" in text
    assert "申请人：江南理工大学" in text and "成熟度：中试" in text and "许可方式：开放许可" in text and "价格：8万元" in text
    frame = at.dataframe[0].value
    assert list(frame.columns) == PAIR_COLUMNS and len(frame) == 10
    assert frame["专利号"].iloc[0] == "DEMO-P-001" and frame["企业/需求编号"].iloc[0] == "DEMO-D-002"


def test_the_pages_answer_queries_with_one_blas_thread(app_env):
    """app.py limits the numeric libraries as a process answering one query at a time should (`matcher.threads`)."""
    OpenBLASController.clear_controlling_thread(force=True)  # threadpoolctl lets one live thread at a time set it
    with threadpool_limits(limits=2, user_api="blas"):  # as a server process starts on two cores; restored after
        OpenBLASController.clear_controlling_thread()  # now the page's thread may set it
        assert "共 60 条专利符合筛选条件" in _texts(pick_demand(login(new_app())))
        numpy_blas = [lib for lib in threadpool_info() if lib.get("threading_layer") == "pthreads"]  # process-wide
        assert numpy_blas and all(lib["num_threads"] == 1 for lib in numpy_blas)


def test_a_company_holding_patents_sees_the_held_patent_and_never_its_own(app_env):
    # demo: 睿驱电子科技 (DEMO-C-012) filed DEMO-P-055 (applicant = its name)
    at = pick_demand(login(new_app()), "DEMO-C-012")
    text = _texts(at)
    assert "共 60 条专利符合筛选条件" in text  # the count of what passes the filters
    cards = [m.value for m in at.markdown if m.value.startswith("#### #")]
    assert len(cards) == 10 and not any("DEMO-P-055" in c for c in cards)
    plain = re.sub(r"</?mark>", "", text)  # the held patent's title is highlighted like the other texts
    assert re.search(r"企业已持有相近专利：《一种新能源汽车电机控制器散热结构》", plain)
    frame = at.dataframe[0].value
    assert "DEMO-P-055" not in set(frame["专利号"])
    assert frame["企业已持有相近专利"].str.contains("新能源汽车电机控制器散热结构").any()


def test_sidebar_filters_note_and_never_silently_empty(app_env, demo_patents):
    at = pick_demand(login(new_app()))
    at.sidebar.multiselect(key="f_p_applicant_type").select("高校")
    at.run()
    _no_errors(at)
    n_univ = int((demo_patents["applicant_type"] == "高校").sum())
    assert f"共 {n_univ} 条专利符合筛选条件" in _texts(at)
    assert set(at.dataframe[0].value["申请人类型"]) == {"高校"}
    # a narrow filter: the engine's note is shown
    at.sidebar.multiselect(key="f_p_industry").select("纺织服装")
    at.sidebar.multiselect(key="f_p_region").select("浙江")
    at.run()
    text = _texts(at)
    assert "仅有" in text or "没有符合筛选条件" in text
    # minimum score above every result: the list is empty with the reason, not silently
    at.sidebar.multiselect(key="f_p_industry").unselect("纺织服装")
    at.sidebar.multiselect(key="f_p_region").unselect("浙江")
    at.sidebar.number_input(key="f_min_score").set_value(100)
    at.run()
    text = _texts(at)
    assert "当前没有可显示的匹配" in text and "最低匹配度" in text and "低于最低匹配度 100" in text
    assert not at.dataframe


def test_grade_filter_uses_maturity(app_env):
    at = pick_demand(login(new_app()))
    at.sidebar.multiselect(key="f_p_maturity").select("中试")
    at.run()
    _no_errors(at)
    assert set(at.dataframe[0].value["成熟度"]) == {"中试"}


def test_patent_to_enterprises(app_env):
    at = pick_patent(login(new_app()), "DEMO-P-001")
    frame = at.dataframe[0].value
    assert frame["企业/需求编号"].iloc[0] == "DEMO-D-002"
    assert set(frame["专利号"]) == {"DEMO-P-001"}
    assert "共 40 条企业/需求符合筛选条件" in _texts(at)
    assert at.sidebar.multiselect(key="f_e_cooperation") is not None


def test_patent_to_enterprises_with_the_activity_model(app_env, tmp_path):
    # a patent-activity model trained on the demo index's own applicant link (two holders: a toy-sized label set,
    # enough to show the signal's line and column; they fall in different member folds)
    from matcher.index.collection import Collection
    from matcher.training.activity import index_labels, train_activity

    index = Path(os.environ["MATCHER_INDEX_DIR"])
    labels = index_labels(Collection.read_records(index / "patent"), Collection.read_records(index / "enterprise"))
    train_activity(tmp_path / "activity", labels, min_df=1, min_positives=2)
    (tmp_path / "config.json").write_text(json.dumps({"activity_model": str(tmp_path / "activity")}), encoding="utf-8")
    app_env.setenv("MATCHER_CONFIG", str(tmp_path / "config.json"))
    at = pick_patent(login(new_app()), "DEMO-P-028")
    frame = at.dataframe[0].value
    companies = frame["企业/需求编号"].str.startswith("DEMO-C")
    values = pd.to_numeric(frame.loc[companies, "专利活跃度"])
    assert values.between(0, 1).all() and values.nunique() > 1
    assert (frame.loc[~companies, "专利活跃度"] == "").all()  # a demand is not a company profile
    assert re.search(r"专利活跃度：名称、经营范围与注册资本比 \d+% 的入库企业更接近申请专利的企业", _texts(at))
    # without the model the column stays empty and no card says it
    app_env.delenv("MATCHER_CONFIG")
    at = pick_patent(login(new_app()), "DEMO-P-028")
    assert (at.dataframe[0].value["专利活跃度"] == "").all() and "专利活跃度：" not in _texts(at)


def test_free_text_demand(app_env):
    at = login(new_app())
    at.radio(key="mode").set_value("text")
    at.run()
    at.text_area(key="free_text_input").input("我们生产可降解购物袋，薄膜容易撕裂，希望提高薄膜韧性和抗撕裂性能")
    _button(at, "匹配专利").click()
    at.run()
    _no_errors(at)
    frame = at.dataframe[0].value
    assert frame["专利号"].iloc[0] == "DEMO-P-001"
    assert frame["企业/需求编号"].iloc[0].startswith("TEXT-")


def test_name_search_narrows_the_picker(app_env):
    at = login(new_app())
    at.text_input(key="q_enterprise_search").input("购物袋")
    at.run()
    assert at.selectbox(key="q_enterprise").options == ["可降解购物袋薄膜强度提升（DEMO-D-002）"]
    at.text_input(key="q_enterprise_search").input("no such thing")
    at.run()
    assert "没有名称或编号包含「no such thing」" in at.warning[0].value


def test_export_equals_screen(app_env):
    at = pick_demand(login(new_app()))
    assert not at.get("download_button")  # the files are built only when asked
    _button(at, "生成下载文件").click()
    at.run()
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["导出 CSV", "导出 XLSX"]
    screen = at.dataframe[0].value
    from_csv = pd.read_csv(io.BytesIO(to_csv_bytes(screen)), encoding="utf-8-sig", keep_default_na=False)
    from_xlsx = pd.read_excel(io.BytesIO(to_xlsx_bytes(screen)), keep_default_na=False)
    for back in (from_csv, from_xlsx):
        assert list(back.columns) == list(screen.columns)
        assert back.astype(str).values.tolist() == screen.astype(str).values.tolist()


def test_highlight_escapes_and_prefers_longer_terms():
    assert highlight_terms("可降解薄膜<b>", ["薄膜", "可降解薄膜"]) == "<mark>可降解薄膜</mark>&lt;b&gt;"
    assert highlight_terms("PLA film", ["pla"]) == "<mark>PLA</mark> film"
    assert highlight_terms("abc", []) == "abc"


def test_export_guards_formula_cells():
    frame = pd.DataFrame({"a": ["=1+1", "ok"]})
    assert b"'=1+1" in to_csv_bytes(frame)


# ----------------------------------------------------------------------------- tracking workflow
@pytest.fixture(params=["sqlite", "postgresql"])
def tracking_env(request, app_env):
    if request.param == "postgresql":
        app_env.setenv("DATABASE_URL", request.getfixturevalue("pg_url"))
    return app_env


def test_whole_tracking_workflow(tracking_env):
    at = pick_demand(login(new_app()))
    # add the top pair to the shortlist from its card, then push it from the card
    at.button(key="add_DEMO-P-001_DEMO-D-002").click()
    at.run()
    _no_errors(at)
    assert "已加入推送清单" in at.success[0].value
    assert "跟踪状态：**待推送**" in _texts(at)
    at.button(key="move_DEMO-P-001_DEMO-D-002_已推送").click()
    at.run()
    _no_errors(at)
    assert "跟踪状态：**已推送**" in _texts(at)
    assert at.dataframe[0].value["跟踪状态"].iloc[0] == "已推送"
    # a second pair goes on the list too (to be refused below)
    second = at.dataframe[0].value["专利号"].iloc[1]
    at.button(key=f"add_{second}_DEMO-D-002").click()
    at.run()

    at.switch_page(TRACKING).run()
    _no_errors(at)
    table = at.dataframe[0].value
    assert list(table.columns) == SHORTLIST_COLUMNS and len(table) == 2
    first_id = int(table.loc[table["专利号"] == "DEMO-P-001", "记录号"].iloc[0])
    at.selectbox(key="t_item").select(first_id)
    at.run()
    for step, version in (("已回复", 2), ("洽谈中", 3), ("已许可", 4)):
        at.selectbox(key=f"e_status_{first_id}_{version}").select(step)
        if step == "已回复":
            at.text_input(key=f"e_owner_{first_id}_{version}").input("李老师")
            at.text_area(key=f"e_note_{first_id}_{version}").input("企业技术总监回复，约下周面谈")
            at.text_input(key=f"e_next_{first_id}_{version}").input("2030-01-15")
        _button(at, "保存修改").click()
        at.run()
        _no_errors(at)
        assert f"现为「{step}」" in at.success[0].value
    history = at.dataframe[1].value
    assert list(history["状态"]) == ["待推送", "待推送 → 已推送", "已推送 → 已回复", "已回复 → 洽谈中", "洽谈中 → 已许可"]
    assert "负责人" in history["修改内容"].iloc[2] and "下次跟进" in history["修改内容"].iloc[2]
    row = at.dataframe[0].value.set_index("记录号").loc[first_id]
    assert (row["状态"], row["负责人"], row["下次跟进"], row["版本"]) == ("已许可", "李老师", "2030-01-15", 5)

    # refuse the second pair: a reason code is required
    second_id = int(table.loc[table["专利号"] == second, "记录号"].iloc[0])
    at.selectbox(key="t_item").select(second_id)
    at.run()
    at.selectbox(key=f"e_status_{second_id}_1").select("已拒绝")
    _button(at, "保存修改").click()
    at.run()
    assert "必须选择原因" in at.error[0].value
    at.selectbox(key=f"e_status_{second_id}_1").select("已拒绝")
    at.selectbox(key=f"e_reason_{second_id}_1").select("已有方案")
    _button(at, "保存修改").click()
    at.run()
    _no_errors(at)
    table = at.dataframe[0].value.set_index("记录号")
    assert (table.loc[second_id, "状态"], table.loc[second_id, "拒绝原因"]) == ("已拒绝", "已有方案")

    # the status filter and the export of the shortlist (equal to the screen)
    at.sidebar.multiselect(key="t_status").select("已拒绝")
    at.run()
    screen = at.dataframe[0].value
    assert list(screen["记录号"]) == [second_id]
    back = pd.read_csv(io.BytesIO(to_csv_bytes(screen)), encoding="utf-8-sig", keep_default_na=False)
    assert back.astype(str).values.tolist() == screen.astype(str).values.tolist()

    # "hide contacted" on the browse page now leaves both pairs out and fills the list from the next candidates
    at.switch_page(BROWSE).run()
    before = list(at.dataframe[0].value["专利号"])
    at.sidebar.checkbox(key="f_hide_contacted").check()
    at.run()
    frame = at.dataframe[0].value
    assert "DEMO-P-001" not in set(frame["专利号"]) and second not in set(frame["专利号"]) and len(frame) == 10
    kept = [p for p in before if p not in ("DEMO-P-001", second)]
    assert list(frame["专利号"])[:len(kept)] == kept and list(frame["排名"]) == list(range(1, 11))
    assert "2 条已联系" in _texts(at)


def test_two_officers_at_once_lose_nothing(tracking_env):
    a = pick_demand(login(new_app()))
    a.button(key="add_DEMO-P-001_DEMO-D-002").click()
    a.run()
    a.switch_page(TRACKING).run()
    b = login(new_app())
    b.switch_page(TRACKING).run()
    item_id = int(a.dataframe[0].value["记录号"].iloc[0])
    for at in (a, b):
        at.selectbox(key="t_item").select(item_id)
        at.run()
    # B saves first
    b.selectbox(key=f"e_status_{item_id}_1").select("已推送")
    b.text_area(key=f"e_note_{item_id}_1").input("B：已发邮件")
    _button(b, "保存修改").click()
    b.run()
    _no_errors(b)
    # A, still on version 1, saves a note: refused with a clear message, nothing overwritten
    a.text_area(key=f"e_note_{item_id}_1").input("A：电话联系过")
    _button(a, "保存修改").click()
    a.run()
    assert not a.exception
    assert "重新加载" in a.error[0].value and "未保存" in a.error[0].value
    assert "B：已发邮件" in b.dataframe[0].value["备注"].iloc[0]
    # A reloads, sees B's change, and redoes the edit
    a.button(key=f"reload_{item_id}").click()
    a.run()
    _no_errors(a)
    assert a.text_area(key=f"e_note_{item_id}_2").value == "B：已发邮件"
    a.text_area(key=f"e_note_{item_id}_2").input("B：已发邮件；A：电话联系过")
    _button(a, "保存修改").click()
    a.run()
    _no_errors(a)
    row = a.dataframe[0].value.iloc[0]
    assert (row["状态"], row["备注"], row["版本"]) == ("已推送", "B：已发邮件；A：电话联系过", 3)
    history = a.dataframe[1].value  # every change kept, with the display and the login name
    assert list(history["版本"]) == [1, 2, 3] and all(who.endswith("（editor）") for who in history["操作人"])


def test_viewer_cannot_change_tracking(app_env):
    editor = pick_demand(login(new_app()))
    editor.button(key="add_DEMO-P-001_DEMO-D-002").click()
    editor.run()
    viewer = pick_demand(login(new_app(), VIEWER))
    assert not [b for b in viewer.button if b.label in ("加入推送清单",) or b.label.startswith("标记为")]
    assert "跟踪状态：**待推送**" in _texts(viewer)
    viewer.switch_page(TRACKING).run()
    _no_errors(viewer)
    assert "只读账号" in viewer.info[0].value
    assert not [b for b in viewer.button if b.label == "保存修改"]
    assert len(viewer.dataframe[0].value) == 1  # but may read (and export) the shortlist


# ----------------------------------------------------------------------------- nightly lists
@pytest.fixture(scope="module")
def nightly_run(demo_index, config, tmp_path_factory):
    """The demo index's batch run, patent -> enterprise lists capped at 20 lists per enterprise: its matches folder."""
    out = tmp_path_factory.mktemp("nightly")
    NightlyJob(Matcher.load(demo_index, config), k=10, formats=("parquet",), max_per_target={"patent->enterprise": 20}).run(out)
    return out / "matches"


def test_nightly_lists_page(app_env, nightly_run):
    app_env.setenv("MATCHER_EXPORT_DIR", str(nightly_run))
    at = login(new_app())
    at.switch_page(BATCH).run()
    _no_errors(at)
    assert [t.value for t in at.title] == ["夜间推荐清单"]
    texts = _texts(at)
    assert "每个清单取前 10 名" in texts and "每个企业/需求最多出现在 20 个清单中" in texts
    assert len(at.dataframe[0].value) == 400  # the run's first direction: 40 enterprises' lists of 10 patents
    at.radio(key="b_direction").set_value("patent->enterprise").run()
    table = at.dataframe[0].value
    assert len(table) == 600 and table["出现清单数"].max() <= 20 and (table["引擎排名"] >= table["排名"]).all()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["清单数"] == "60" and metrics["筛选后配对"] == "600" and metrics["单个企业/需求最多出现"] == "20 个清单"
    charts = at.get("plotly_chart")
    assert "出现在最多清单中的企业/需求" in json.loads(charts[0].proto.spec)["layout"]["title"]["text"]

    at.text_input(key="b_search").input("DEMO-P-001").run()
    table = at.dataframe[0].value
    assert set(table["专利号"]) == {"DEMO-P-001"} and table["排名"].tolist() == list(range(1, 11))
    at.slider(key="b_max_rank").set_value(3).run()
    assert at.dataframe[0].value["排名"].tolist() == [1, 2, 3]
    shown = at.dataframe[0].value
    assert at.multiselect(key="b_pick").options == [f"{n} ↔ {e}（第 {r} 名）" for n, e, r in
                                                   zip(shown["专利名称"], shown["企业/需求名称"], shown["排名"])]
    keys = [f"DEMO-P-001 ↔ {e}" for e in shown["企业/需求编号"]]
    at.multiselect(key="b_pick").select(keys[0]).select(keys[1]).run()
    _button(at, "加入推送清单（2 对）").click()
    at.run()
    _no_errors(at)
    assert "已加入推送清单 2 对" in at.success[0].value
    assert at.dataframe[0].value["跟踪状态"].tolist() == ["待推送", "待推送", ""]
    assert at.multiselect(key="b_pick").value == []
    at.checkbox(key="b_hide_tracked").check().run()
    assert at.dataframe[0].value["排名"].tolist() == [3]
    at.switch_page(TRACKING).run()
    shortlist = at.dataframe[0].value
    assert sorted(shortlist["专利号"]) == ["DEMO-P-001", "DEMO-P-001"] and set(shortlist["状态"]) == {"待推送"}


def test_nightly_lists_page_without_a_run_broken_or_read_only(app_env, nightly_run, tmp_path):
    app_env.setenv("MATCHER_EXPORT_DIR", str(tmp_path / "none"))
    at = login(new_app())
    at.switch_page(BATCH).run()
    _no_errors(at)
    assert "尚无夜间推荐清单" in at.info[0].value and "matcher match" in at.info[0].value

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "run_manifest.json").write_text("{", encoding="utf-8")
    app_env.setenv("MATCHER_EXPORT_DIR", str(broken))
    at = login(new_app())
    at.switch_page(BATCH).run()
    assert not at.exception
    assert "夜间推荐清单无法读取" in at.error[0].value and "run_manifest.json" in at.error[0].value

    app_env.setenv("MATCHER_EXPORT_DIR", str(nightly_run))
    viewer = login(new_app(), VIEWER)
    viewer.switch_page(BATCH).run()
    _no_errors(viewer)
    assert len(viewer.dataframe[0].value) == 400
    assert not [b for b in viewer.button if b.label.startswith("加入推送清单")]
    assert "只读账号不能加入推送清单" in _texts(viewer)


# ----------------------------------------------------------------------------- overview and load time
def test_overview_page(app_env):
    at = pick_demand(login(new_app()))
    at.button(key="add_DEMO-P-001_DEMO-D-002").click()
    at.run()
    at.button(key="move_DEMO-P-001_DEMO-D-002_已推送").click()
    at.run()
    at.switch_page(TRACKING).run()
    item_id = int(at.dataframe[0].value["记录号"].iloc[0])
    at.selectbox(key="t_item").select(item_id)
    at.run()
    at.selectbox(key=f"e_status_{item_id}_2").select("已回复")
    _button(at, "保存修改").click()
    at.run()
    at.switch_page(OVERVIEW).run()
    _no_errors(at)
    assert [t.value for t in at.title] == ["总览"]
    assert [(m.label, m.value) for m in at.metric][:4] == [("专利", "60"), ("企业/需求", "40"), ("推送清单", "1"), ("已许可/已转让", "0")]
    charts = at.get("plotly_chart")
    assert len(charts) == 5
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in charts]
    for title in ("各行业匹配数", "匹配度分布", "推送漏斗", "各行业推送状态", "推送到回复的天数"):
        assert any(title in t for t in titles), titles
    assert "已回复 1 条" in _texts(at)


def test_engine_loads_without_the_model(demo_index, cache_dir, monkeypatch):
    """The index loads on its own; USE-m3 is a lazy encoder whose id and size are known before its model is read
    (load times are measured by `matcher bench`, not here)."""
    from matcher.workbench.resources import LazyEncoder, load_matcher

    monkeypatch.setenv("MATCHER_CACHE_DIR", str(cache_dir))
    matcher = load_matcher(demo_index, preload=False)
    assert len(matcher.collection("patent")) == 60
    lazy = LazyEncoder("use-m3")
    assert (lazy.loaded, lazy.model_id, lazy.dim) == (False, "use-m3", 512)


def test_first_page_after_login(app_env):
    at = new_app()
    at.run()
    at.text_input(key="login_user").input(EDITOR[0])
    at.text_input(key="login_password").input(EDITOR[1])
    _button(at, "登录").click()
    at.run()
    _no_errors(at)
    assert at.selectbox(key="q_enterprise") is not None


def test_session_keys_are_named_only_in_the_state_module():
    """Pages and helpers never spell a session-state or widget key themselves (matcher.workbench.state names them)."""
    spelled = re.compile(r"""(key=|session_state\[|session_state\.(get|setdefault|pop)\(|st\.form\()\s*f?["']""")
    folder = Path(__file__).resolve().parent.parent / "matcher" / "workbench"
    offenders = [f"{p.name}:{n}" for p in sorted(folder.glob("*.py")) if p.name != "state.py"
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if spelled.search(line)]
    assert not offenders, f"name these keys in matcher/workbench/state.py: {offenders}"


def test_the_next_action_date_is_typed_in_chinese_and_checked():
    """The tracking form's date box is a text box (st.date_input shows "yyyy/mm/dd" when empty): a date in the usual
    spellings is read, an empty box is no date, anything else is refused with a message instead of being saved."""
    from datetime import date

    from matcher.workbench.tracking_page import _parse_date

    assert _parse_date("2030-01-15") == (date(2030, 1, 15), False)
    assert _parse_date(" 2030/1/15 ".replace("/1/", "/01/")) == (date(2030, 1, 15), False)
    assert _parse_date("") == (None, False)
    assert _parse_date("明天") == (None, True)
