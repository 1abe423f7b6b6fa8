"""The workbench's record pages (AppTest): contacts, 专利详情 / 企业详情 with matches both ways, held patents and
tracking, editable patent terms (versioned, used by the filters and the index at once) and note threads."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from matcher.engine import Matcher
from matcher.export import result_rows
from matcher.ingest import validate_frame
from matcher.schema import Kind
from matcher.tracking import TrackingStore, current_terms, notes, terms_history
from matcher.workbench.contacts import HIDDEN_NOTE
from matcher.workbench.upload import apply, preview, read_upload
from test_app import EDITOR, VIEWER, _no_errors, _texts, app_env, login, new_app  # noqa: F401 - app_env: fixture

PATENT = "matcher/workbench/page_files/patent.py"
ENTERPRISE = "matcher/workbench/page_files/enterprise.py"
TRACKING = "matcher/workbench/page_files/tracking.py"
CONTACT_CSV = ("编号,企业名称,需求描述,联系人,联系电话,邮箱\n"
               "DEMO-D-002,可降解购物袋薄膜强度提升,公司为超市和外卖平台生产可降解购物袋，生物降解膜袋容易撕裂，希望提高薄膜韧性和抗撕裂性能。,"
               "刘经理,0571-88886666,liu@example.com\n")


@pytest.fixture()
def own_index(app_env, demo_index, tmp_path):
    """A copy of the demo index the test may write (uploads, terms)."""
    copy = tmp_path / "index"
    shutil.copytree(demo_index, copy)
    app_env.setenv("MATCHER_INDEX_DIR", str(copy))
    return copy


def _store() -> TrackingStore:
    import os
    return TrackingStore(os.environ["DATABASE_URL"])


def _open(at: AppTest, page: str, **params: str) -> AppTest:
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page(page).run()
    _no_errors(at)
    return at


def test_contact_columns_are_read_exported_and_hidden_from_viewers_when_configured(own_index, app_env):
    # the Chinese headers map to the optional contact columns
    frame = validate_frame(pd.DataFrame([{"专利号": "P1", "名称": "一种膜", "摘要": "一种可降解薄膜。", "发明人": "王教授团队",
                                          "团队联系人": "李博士", "电话": "13800000000", "电子邮箱": "li@example.edu"}]),
                           Kind.PATENT).frame
    assert frame.loc[0, ["inventor", "contact", "phone", "email"]].tolist() == ["王教授团队", "李博士", "13800000000",
                                                                                "li@example.edu"]
    up = preview(read_upload("contacts.csv", CONTACT_CSV.encode("utf-8"), Kind.ENTERPRISE), {"DEMO-D-002"})
    assert apply(up) == (0, 1)
    # the nightly export carries the target's contacts
    matcher = Matcher.load(own_index)
    rows = result_rows("patent->enterprise", matcher.search(matcher.query_for(Kind.PATENT, "DEMO-P-001"), Kind.ENTERPRISE,
                                                            k=50), {})
    mine = next(r for r in rows if r["target_id"] == "DEMO-D-002")
    assert (mine["target_contact"], mine["target_phone"], mine["target_email"]) == ("刘经理", "0571-88886666", "liu@example.com")
    # on the detail page and on the cards: editors always, viewers unless the office hides them
    at = _open(login(new_app()), ENTERPRISE, enterprise="DEMO-D-002")
    assert "**联系方式**：联系人：刘经理 · 联系电话：0571" in _texts(at)
    at = login(new_app())
    at.selectbox(key="q_enterprise").select("DEMO-D-002")
    at.run()
    assert "企业联系方式：联系人：刘经理" in _texts(at)
    at = _open(login(new_app(), VIEWER), ENTERPRISE, enterprise="DEMO-D-002")
    assert "刘经理" in _texts(at)
    app_env.setenv("MATCHER_HIDE_CONTACTS_FROM_VIEWERS", "1")
    at = _open(login(new_app(), VIEWER), ENTERPRISE, enterprise="DEMO-D-002")
    assert "刘经理" not in _texts(at) and HIDDEN_NOTE in _texts(at)
    at = _open(login(new_app()), ENTERPRISE, enterprise="DEMO-D-002")
    assert "刘经理" in _texts(at)


def test_patent_detail_lists_matches_both_ways_and_its_tracking(app_env):
    store = _store()
    item = store.add("DEMO-P-001", "DEMO-D-002", user="editor", patent_title="一种可降解聚乳酸薄膜及其制备方法",
                     enterprise_name="可降解购物袋薄膜强度提升")
    store.update(item.id, 1, user="editor", status="已推送")
    at = _open(login(new_app()), PATENT, patent="DEMO-P-001")
    assert [t.value for t in at.title] == ["专利详情"]
    assert "一种可降解聚乳酸薄膜及其制备方法" in [s.value for s in at.subheader][0]
    matches = at.dataframe[1].value  # [0]: the full record (expander)
    assert list(matches.columns[:4]) == ["排名", "编号", "名称", "匹配度"] and len(matches) == 10
    assert matches["匹配度"].between(0, 100).all()  # the one 0-100 reading of every page
    assert "DEMO-D-002" in set(matches["编号"])
    assert matches["对方清单中本条排名"].str.match(r"^(第 \d+ 位|50 名以外)$").all()
    assert (matches["详情"] == "./enterprise?enterprise=" + matches["编号"]).all()
    record = at.dataframe[0].value
    assert dict(zip(record["字段"], record["内容"]))["申请人"] == "江南理工大学"
    tracked = at.dataframe[2].value
    assert tracked["状态"].tolist() == ["已推送"]
    assert "（北京）" in " ".join(at.dataframe[3].value.columns)  # the record's history, in Beijing time
    # an unknown id is a message, not a traceback
    at = _open(login(new_app()), PATENT, patent="NOPE-1")
    assert "索引中没有编号为" in _texts(at)


def test_enterprise_detail_shows_held_patents_and_a_picker_without_a_link(app_env):
    at = _open(login(new_app()), ENTERPRISE)
    assert "请选择一条企业/需求" in _texts(at)
    at.selectbox(key="d_enterprise").select("DEMO-C-012")
    at.run()
    _no_errors(at)
    assert at.query_params["enterprise"] == ["DEMO-C-012"] or at.query_params["enterprise"] == "DEMO-C-012"
    held = at.dataframe[1].value
    assert held["专利号"].tolist() == ["DEMO-P-055"] and "企业已持有的专利**（共 1 件）" in _texts(at)
    matches = at.dataframe[2].value
    assert "DEMO-P-055" not in set(matches["编号"])  # a patent it holds is never offered to it


def test_patent_terms_are_edited_with_history_and_used_at_once(own_index, app_env, demo_index):
    at = _open(login(new_app()), PATENT, patent="DEMO-P-001")
    assert "许可方式：开放许可" in _texts(at) and "导入数据" in _texts(at)
    at.selectbox(key="terms_mode_DEMO-P-001_0").select("独占")
    at.text_input(key="terms_price_DEMO-P-001_0").input("20万元")
    at.selectbox(key="terms_level_DEMO-P-001_0").select("已有样品")
    [b for b in at.button if b.label == "保存条款"][0].click()
    at.run()
    _no_errors(at)
    assert "第 1 版" in at.success[0].value
    store = _store()
    assert current_terms(store)["DEMO-P-001"].values() == {"license_mode": "独占", "price": "20万元", "maturity": "已有样品"}
    assert terms_history(store, "DEMO-P-001")[0].changed_by
    # the index holds the new terms: the engine's filters and the nightly export read them at once
    record = Matcher.load(own_index).collection(Kind.PATENT).record("DEMO-P-001")
    assert (record["license_mode"], record["price"], record["maturity"]) == ("独占", "20万元", "已有样品")
    assert "许可方式：独占" in _texts(at) and "第 1 版" in _texts(at)
    matcher = Matcher.load(own_index)  # the sidebar's 许可方式 filter is the engine's filter on this column
    [res] = matcher.search(matcher.query_for(Kind.ENTERPRISE, "DEMO-D-002"), Kind.PATENT, k=10,
                           filters={"license_mode": ["独占"]})
    assert "DEMO-P-001" in [m.target_id for m in res.matches]
    before = Matcher.load(demo_index)
    [old] = before.search(before.query_for(Kind.ENTERPRISE, "DEMO-D-002"), Kind.PATENT, k=10, filters={"license_mode": ["独占"]})
    assert "DEMO-P-001" not in [m.target_id for m in old.matches]
    # a viewer sees the terms, not the form
    at = _open(login(new_app(), VIEWER), PATENT, patent="DEMO-P-001")
    assert "许可方式：独占" in _texts(at) and not [b for b in at.button if b.label == "保存条款"]


def test_notes_are_a_thread_on_the_tracking_page(app_env):
    store = _store()
    item = store.add("DEMO-P-001", "DEMO-D-002", user="editor", note="第一次电话\x0b已联系")
    at = login(new_app())
    at.switch_page(TRACKING).run()
    _no_errors(at)
    at.text_area(key=f"note_input_{item.id}").input("对方要求寄样品")
    [b for b in at.button if b.label == "保存备注"][0].click()
    at.run()
    _no_errors(at)
    thread = notes(store, item.id)
    assert [n.body for n in thread] == ["第一次电话 已联系", "对方要求寄样品"]
    assert thread[1].author_login == "editor" and thread[1].author.startswith("演示编辑")
    text = _texts(at)
    assert "备注记录**（共 2 条）" in text and "（北京时间）" in text
    assert store.get(item.id).version == 1  # notes never bump the record's version


def test_a_link_opens_its_record_once_then_the_picker_wins(app_env):
    at = _open(login(new_app()), PATENT, patent="DEMO-P-001")
    assert at.selectbox(key="d_patent").value == "DEMO-P-001"
    at.selectbox(key="d_patent").select("DEMO-P-002")
    at.run()
    _no_errors(at)
    assert at.selectbox(key="d_patent").value == "DEMO-P-002" and at.query_params["patent"] in ("DEMO-P-002", ["DEMO-P-002"])
    assert "石墨烯" in at.subheader[0].value
