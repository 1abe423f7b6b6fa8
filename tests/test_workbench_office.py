"""The workbench's office pages (AppTest): 待办 with the overview's overdue count, batch actions on 推送跟踪,
数据上传 (validated like the CLI, previewed, upserted) and 推送函 (DOCX from an editable template)."""

from __future__ import annotations

import io
import os
import shutil
from datetime import timedelta

import pytest
from docx import Document

from matcher.engine import Matcher
from matcher.errors import InputError
from matcher.ingest import load_records
from matcher.schema import Kind
from matcher.tracking import TrackingStore, beijing_today
from matcher.workbench.letter import DEFAULT_TEMPLATE, build_docx, fill, letter_fields
from matcher.workbench.resources import load_matcher
from matcher.workbench.upload import preview, read_upload
from test_app import VIEWER, _no_errors, _texts, app_env, login, new_app  # noqa: F401 - app_env: fixture

TODO = "matcher/workbench/page_files/todo.py"
OVERVIEW = "matcher/workbench/page_files/overview.py"
TRACKING = "matcher/workbench/page_files/tracking.py"
UPLOAD = "matcher/workbench/page_files/upload.py"
LETTER = "matcher/workbench/page_files/letter.py"


def _store() -> TrackingStore:
    return TrackingStore(os.environ["DATABASE_URL"])


def _click(at, label: str):
    [b for b in at.button if b.label == label][0].click()
    at.run()
    _no_errors(at)
    return at


def test_follow_up_list_sorted_and_highlighted_and_counted_on_the_overview(app_env):
    store, today = _store(), beijing_today()
    dates = {"P-LATE": today - timedelta(days=5), "P-TODAY": today, "P-OLD": today - timedelta(days=20),
             "P-NEXT-WEEK": today + timedelta(days=8), "P-DONE": today - timedelta(days=2)}
    for patent, when in dates.items():
        item = store.add(patent, "DEMO-D-002", user="editor", patent_title=patent, owner="李老师" if patent == "P-OLD" else "王老师")
        if patent == "P-DONE":
            item = store.update(item.id, 1, user="editor", status="已拒绝", reason="价格")
        store.update(item.id, item.version, user="editor", next_action=when)
    at = login(new_app())
    at.switch_page(TODO).run()
    _no_errors(at)
    table = at.dataframe[0].value  # shown through a Styler: overdue rows highlighted
    assert table["专利号"].tolist() == ["P-OLD", "P-LATE", "P-TODAY"]  # most overdue first; closed and next week out
    assert table["逾期天数"].tolist()[:2] == [20, 5] and table["负责人"].tolist() == ["李老师", "王老师", "王老师"]
    assert [m.value for m in at.metric][:2] == ["2", "1"]
    at.multiselect(key="todo_owner").select("李老师")
    at.run()
    assert at.dataframe[0].value["专利号"].tolist() == ["P-OLD"]
    at.switch_page(OVERVIEW).run()
    _no_errors(at)
    assert dict((m.label, m.value) for m in at.metric)["逾期待办"] == "2"


def test_batch_actions_change_many_records_each_versioned(app_env):
    store = _store()
    items = [store.add(p, "DEMO-D-002", user="editor", patent_title=p) for p in ("P1", "P2", "P3")]
    at = login(new_app())
    at.switch_page(TRACKING).run()
    _no_errors(at)
    at.multiselect(key="t_bulk_pick").select(items[0].id).select(items[1].id)
    at.selectbox(key="t_bulk_status").select("已推送")
    at.text_input(key="t_bulk_owner").input("赵老师")
    store.update(items[1].id, 1, user="王老师", owner="王老师")  # someone changes P2 while the form is open
    [b for b in at.button if b.label == "批量保存"][0].click()
    at.run()
    assert not at.exception and "已批量修改 1 条记录" in at.success[0].value
    assert [e.value.split("：")[0] for e in at.error] == [f"记录 #{items[1].id} 未修改"]  # refused, named, nothing lost
    first = store.get(items[0].id)
    assert (first.status, first.owner, first.version) == ("已推送", "赵老师", 2)
    assert store.history(first.id)[-1].changes == {"status": ["待推送", "已推送"], "owner": ["editor", "赵老师"]}
    assert store.get(items[1].id).owner == "王老师" and store.get(items[2].id).version == 1
    # every record the filters show, at once
    at.checkbox(key="t_bulk_all").check()
    at.text_input(key="t_bulk_owner").input("钱老师")
    _click(at, "批量保存")
    assert {store.get(i.id).owner for i in items} == {"钱老师"}
    assert all(store.get(i.id).version >= 2 for i in items)
    at = login(new_app(), VIEWER)
    at.switch_page(TRACKING).run()
    assert not [b for b in at.button if b.label == "批量保存"]


def test_upload_is_validated_like_the_cli_previewed_and_upserted(app_env, demo_index, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(demo_index, copy)
    app_env.setenv("MATCHER_INDEX_DIR", str(copy))
    bad = "专利号,名称\nP-1,一种膜\n".encode("utf-8")
    (tmp_path / "bad.csv").write_bytes(bad)
    with pytest.raises(InputError) as cli:
        load_records(tmp_path / "bad.csv", Kind.PATENT)
    with pytest.raises(InputError) as page:
        read_upload("bad.csv", bad, Kind.PATENT)
    # the CLI's own message, naming the uploaded file
    assert str(page.value) == str(cli.value).replace(str(tmp_path / "bad.csv"), "bad.csv") and "'abstract'" in str(page.value)
    good = ("专利号,名称,摘要,许可方式\n"
            "DEMO-P-001,一种可降解聚乳酸薄膜及其制备方法,一种可降解聚乳酸薄膜，提高撕裂强度。,独占\n"
            "NEW-P-1,一种石墨烯散热膜,一种石墨烯散热膜及其制备方法，用于手机散热。,开放许可\n"
            "NEW-P-2,一种空摘要专利,,普通\n").encode("utf-8")
    up = preview(read_upload("patents.csv", good, Kind.PATENT), set(Matcher.load(copy).collection(Kind.PATENT).ids))
    assert (up.new_ids, up.replaced_ids, [s.row for s in up.result.skipped]) == (["NEW-P-1"], ["DEMO-P-001"], [3])
    before = Matcher.load(copy).count(Kind.PATENT)
    # through the page: a bad file is the CLI's message and writes nothing; a good one is previewed, then upserted
    at = login(new_app())
    at.switch_page(UPLOAD).run()
    _no_errors(at)
    at.file_uploader(key="u_file").set_value(("bad.csv", bad, "text/csv"))
    at.run()
    assert not at.exception and at.error[0].value.startswith("文件未通过校验，未写入任何数据：file bad.csv")
    at.file_uploader(key="u_file").set_value(("patents.csv", good, "text/csv"))
    at.run()
    _no_errors(at)
    assert "共读取 3 行：将新增 1 条、替换 1 条（编号已存在），跳过 1 行" in _texts(at)
    assert at.dataframe[0].value["原因"].tolist() == ["empty 'abstract'"] and len(at.dataframe[1].value) == 2
    assert Matcher.load(copy).count(Kind.PATENT) == before  # nothing written before the officer confirms
    _click(at, "写入索引")
    assert "新增 1 条，替换 1 条，跳过 1 行" in at.success[0].value
    after = Matcher.load(copy)
    assert after.count(Kind.PATENT) == before + 1 and after.collection(Kind.PATENT).record("NEW-P-1")["license_mode"] == "开放许可"
    at = login(new_app(), VIEWER)
    at.switch_page(UPLOAD).run()
    assert "只读账号不能上传数据" in _texts(at) and not at.radio


def test_push_letter_from_an_editable_template(app_env, monkeypatch):
    monkeypatch.setenv("MATCHER_OFFICE_CONTACT", "江南理工大学技术转移中心 张老师 0510-12345678")
    store = _store()
    item = store.add("DEMO-P-001", "DEMO-D-002", user="editor", patent_title="一种可降解聚乳酸薄膜及其制备方法",
                     enterprise_name="可降解购物袋薄膜强度提升")
    assert fill("{专利名称} {未知} {", {"专利名称": "膜"}) == "膜 {未知} {"
    at = login(new_app())
    at.query_params["pair"] = str(item.id)
    at.switch_page(LETTER).run()
    _no_errors(at)
    assert at.multiselect(key="l_items").value == [item.id]
    assert at.text_area(key="l_template").value == DEFAULT_TEMPLATE
    at.text_area(key="l_template").input(DEFAULT_TEMPLATE.replace("特此推荐", "特此推荐（第二版模板）"))
    at.run()
    _no_errors(at)
    assert "下载推送函" not in str(at)  # built only when asked
    _click(at, "生成推送函（1 份）")
    [download] = [e for e in at.get("download_button")]
    assert "下载推送函（DOCX，1 份）" in str(download.proto)
    fields = letter_fields(load_matcher(preload=False), store, store.get(item.id), "江南理工大学技术转移中心 张老师 0510-12345678")
    text = "\n".join(p.text for p in Document(io.BytesIO(build_docx([fields], at.text_area(key="l_template").value))).paragraphs)
    assert "可降解购物袋薄膜强度提升" in text and "一种可降解聚乳酸薄膜及其制备方法（专利号 DEMO-P-001）" in text
    assert "特此推荐（第二版模板）" in text and "许可方式为开放许可，价格8万元" in text
    assert "推荐理由：贵单位需求与该专利共同涉及「" in text and "0510-12345678" in text
    assert "第一份的推荐理由**：贵单位需求与该专利共同涉及" in _texts(at)
