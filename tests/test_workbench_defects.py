"""The workbench defects of issue 25 (items 1-6, 8, 11), each driven through Streamlit's AppTest on the demo index.

The app fixtures and helpers are tests/test_app.py's (demo index with the fast test encoder, demo users, a fresh
SQLite tracking database per test).
"""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import datetime

import pandas as pd
import pytest

from matcher.workbench.frames import local_time, text_query_id
from matcher.workbench.inputs import MAX_PASTE_CHARS, MAX_QUERY_CHARS, prepare_paste
from test_app import (  # noqa: F401 - app_env, nightly_run: pytest fixtures
    BATCH,
    BROWSE,
    OVERVIEW,
    TRACKING,
    VIEWER,
    _button,
    _no_errors,
    _texts,
    app_env,
    login,
    new_app,
    nightly_run,
    pick_demand,
    pick_patent,
)


def _paste(at, text: str):
    at.radio(key="mode").set_value("text")
    at.run()
    at.text_area(key="free_text_input").input(text)
    _button(at, "匹配专利").click()
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _add_top_pair(at) -> int:
    at.button(key="add_DEMO-P-001_DEMO-D-002").click()
    at.run()
    at.switch_page(TRACKING).run()
    _no_errors(at)
    return int(at.dataframe[0].value["记录号"].iloc[0])


# ----------------------------------------------------------------------------- 1. control characters, downloads
def test_a_control_character_in_a_note_breaks_nothing(app_env):
    at = pick_demand(login(new_app()))
    item_id = _add_top_pair(at)
    at.selectbox(key="t_item").select(item_id).run()
    at.text_area(key=f"e_note_{item_id}_1").input("从 Word 粘贴\x0b的备注\x07")
    _button(at, "保存修改").click()
    at.run()
    _no_errors(at)
    from matcher.tracking import TrackingStore

    import os
    store = TrackingStore(os.environ["DATABASE_URL"])
    assert store.get(item_id).note == "从 Word 粘贴 的备注"  # cleaned at the entry: \v acts as a space, BEL goes
    # an older note stored with the character (before the fix) still renders and exports
    store.update(item_id, 2, user="editor", note="旧数据\x0b备注")
    store.dispose()
    at.switch_page(BROWSE).run()
    at.switch_page(TRACKING).run()
    _no_errors(at)
    assert not at.get("download_button")  # never built on a render
    _button(at, "生成下载文件").click()
    at.run()
    _no_errors(at)
    files = {b.proto.label: b for b in at.get("download_button")}
    assert set(files) == {"导出 CSV", "导出 XLSX"}
    from matcher.workbench.export import to_xlsx_bytes

    back = pd.read_excel(io.BytesIO(to_xlsx_bytes(at.dataframe[0].value)), keep_default_na=False)
    assert back["备注"].iloc[0] == "旧数据备注"


def test_control_characters_in_a_paste(app_env):
    at = _paste(login(new_app()), "可降解购物袋\x07薄膜容易\x1b撕裂，希望提高韧性")
    _no_errors(at)
    frame = at.dataframe[0].value
    assert frame["专利号"].iloc[0] == "DEMO-P-001"
    assert frame["企业/需求编号"].iloc[0] == text_query_id("可降解购物袋薄膜容易撕裂，希望提高韧性")
    at = _paste(login(new_app()), "\x07\x1b")
    assert "请输入需求描述" in _texts(at) and not at.dataframe


def test_an_unexpected_error_is_a_chinese_message_and_a_logged_traceback(app_env, monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom in a chart")

    monkeypatch.setattr("matcher.workbench.charts.funnel", broken)
    at = login(new_app())
    with caplog.at_level(logging.ERROR, logger="matcher"):
        at.switch_page(OVERVIEW).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["页面出错，请刷新或联系管理员；详情已记录在服务器日志。"]
    assert "boom in a chart" not in _texts(at) and "Traceback" not in _texts(at)
    logged = [r for r in caplog.records if r.name == "matcher" and r.exc_info]
    assert logged and "boom in a chart" in str(logged[0].exc_info[1])


# ----------------------------------------------------------------------------- 2. one 匹配度 everywhere
def _card_degrees(at) -> list[int]:
    return [int(m.value) for m in at.metric if m.label == "匹配度"]


@pytest.mark.parametrize("direction", ["enterprise", "patent", "text"])
def test_one_match_degree_in_every_direction(app_env, direction):
    at = login(new_app())
    if direction == "enterprise":
        pick_demand(at)
    elif direction == "patent":
        pick_patent(at, "DEMO-P-001")
    else:
        _paste(at, "我们生产可降解购物袋，薄膜容易撕裂，希望提高薄膜韧性和抗撕裂性能")
    degrees = _card_degrees(at)
    assert len(degrees) == 10 and all(0 <= d <= 100 for d in degrees)
    frame = at.dataframe[0].value
    assert frame["匹配度"].tolist() == degrees
    assert not {"综合分", "语义分", "关键词分", "条目分", "句子相似度"} & set(frame.columns)  # no raw scores
    assert set(frame["语义相近"]) <= {"高", "中", "低"} and set(frame["关键词重合"]) <= {"高", "中", "低"}
    text = _texts(at)
    verdicts = re.findall(r"判断：(有合适专利|仅有相关专利|未找到合适专利|有合适企业/需求|仅有相关企业/需求|未找到合适企业/需求)", text)
    assert len(verdicts) == 1  # the query's verdict, once, at the top
    assert "匹配度（0–100）" in text
    # the minimum-score filter is in the same unit
    cut = sorted(degrees)[len(degrees) // 2]
    at.sidebar.number_input(key="f_min_score").set_value(cut).run()
    assert _card_degrees(at) == [d for d in degrees if d >= cut]
    below = sum(d < cut for d in degrees)
    assert not below or f"{below} 条低于最低匹配度 {cut}" in _texts(at)


def test_the_shortlist_and_the_nightly_lists_use_the_same_degree(app_env, nightly_run):
    app_env.setenv("MATCHER_EXPORT_DIR", str(nightly_run))
    at = pick_demand(login(new_app()))
    card = _card_degrees(at)[0]
    item_id = _add_top_pair(at)
    shortlist = at.dataframe[0].value.set_index("记录号")
    assert shortlist.loc[item_id, "匹配度"] == card
    at.switch_page(BATCH).run()
    _no_errors(at)
    table = at.dataframe[0].value
    assert "综合分" not in table.columns and table["匹配度"].between(0, 100).all()
    row = table[(table["专利号"] == "DEMO-P-001") & (table["企业/需求编号"] == "DEMO-D-002")]
    assert int(row["匹配度"].iloc[0]) == card  # the export's features read by the same model


# ----------------------------------------------------------------------------- 3. long pastes
def test_a_long_paste_is_cut_with_a_note(app_env):
    long = "我们生产可降解购物袋，薄膜容易撕裂，希望提高薄膜韧性和抗撕裂性能。" * 7000  # about 230,000 characters
    at = _paste(login(new_app()), long[:MAX_PASTE_CHARS])
    _no_errors(at)
    assert at.text_area(key="free_text_input").proto.max_chars == MAX_PASTE_CHARS
    assert "已截断" in _texts(at) and f"只用前 {MAX_QUERY_CHARS:,} 字" in _texts(at)
    frame = at.dataframe[0].value
    assert frame["企业/需求编号"].iloc[0] == text_query_id(long[:MAX_QUERY_CHARS].rstrip())
    pasted = prepare_paste(long)
    assert len(pasted.text) <= MAX_QUERY_CHARS and pasted.truncated


# ----------------------------------------------------------------------------- 4. nothing to match on
@pytest.mark.parametrize("text", ["😀😀😀🎉🎉", "！！！？？？……——", "😀 !!! ??? ..."])
def test_meaningless_input_gets_no_matches(app_env, text):
    at = _paste(login(new_app()), text)
    assert "没有可用于匹配的词" in _texts(at)
    assert not at.dataframe and not _card_degrees(at)


# ----------------------------------------------------------------------------- 5. Beijing time, typed text kept
def test_beijing_time():
    assert local_time(datetime(2026, 12, 3, 13, 59)) == "2026-12-03 21:59"  # stored naive UTC


def test_conflict_in_beijing_time_and_the_typed_text_stays_visible(app_env):
    a = pick_demand(login(new_app()))
    item_id = _add_top_pair(a)
    b = login(new_app())
    b.switch_page(TRACKING).run()
    for at in (a, b):
        at.selectbox(key="t_item").select(item_id).run()
    b.text_area(key=f"e_note_{item_id}_1").input("B：已发邮件")
    _button(b, "保存修改").click()
    b.run()
    _no_errors(b)
    a.text_area(key=f"e_note_{item_id}_1").input("A：电话联系过，对方下周回复")
    _button(a, "保存修改").click()
    a.run()
    message = a.error[0].value
    assert "北京时间" in message and "UTC" not in message and "未保存" in message
    a.button(key=f"reload_{item_id}").click()
    a.run()
    _no_errors(a)
    assert a.text_area(key=f"e_note_{item_id}_2").value == "B：已发邮件"
    assert any("A：电话联系过，对方下周回复" in c.value for c in a.code)  # what A typed is still on screen
    history = a.dataframe[1].value
    assert "时间（北京时间）" in history.columns
    a.text_area(key=f"e_note_{item_id}_2").input("B：已发邮件；A：电话联系过")
    _button(a, "保存修改").click()
    a.run()
    _no_errors(a)
    assert not a.code  # saved: nothing left unsaved


# ----------------------------------------------------------------------------- 6. no stale views
def test_the_detail_pane_and_the_picker_follow_edits(app_env):
    a = pick_demand(login(new_app()))
    item_id = _add_top_pair(a)
    a.selectbox(key="t_item").select(item_id).run()
    assert "版本：1" in _texts(a)
    a.switch_page(BROWSE).run()
    b = login(new_app())
    b.switch_page(TRACKING).run()
    b.selectbox(key="t_item").select(item_id).run()
    b.selectbox(key=f"e_status_{item_id}_1").select("已推送")
    _button(b, "保存修改").click()
    b.run()
    _no_errors(b)
    assert any("［已推送］" in o for o in b.selectbox(key="t_item").options)  # the picker's label after the save
    a.switch_page(TRACKING).run()  # back on the page: the latest version, no reload needed
    _no_errors(a)
    assert "版本：2" in _texts(a) and "当前状态：**已推送**" in _texts(a)
    assert any("［已推送］" in o for o in a.selectbox(key="t_item").options)


# ----------------------------------------------------------------------------- 8. no English in the UI
ALLOWED = {"CSV", "XLSX", "DEMO", "TEXT", "K", "N", "editor", "viewer"}  # units, ids, the demo accounts' login names


def _data_words() -> set[str]:
    """ASCII words of the demo data itself (names, titles, abstracts): data, not interface text."""
    from pathlib import Path

    words: set[str] = set()
    for path in (Path(__file__).resolve().parent.parent / "data" / "demo").glob("*.csv"):
        words |= set(re.findall(r"[A-Za-z]{2,}", path.read_text(encoding="utf-8")))
    return words


def _visible(at) -> list[str]:
    """Every string an officer sees on the page: texts, labels, placeholders, options, help, tables' headers, charts'
    titles and axis titles."""
    out: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "error", "warning", "info", "success", "code"):
        out += [str(e.value) for e in getattr(at, kind)]
    for kind in ("button", "checkbox", "radio", "selectbox", "multiselect", "text_input", "text_area", "number_input",
                 "date_input", "slider", "toggle", "metric", "expander", "tabs"):
        for widget in getattr(at, kind, []):
            proto = getattr(widget, "proto", None)
            for attr in ("label", "placeholder", "help", "value"):
                value = getattr(proto, attr, None) if proto is not None else None
                if isinstance(value, str):
                    out.append(value)
            out += [str(o) for o in (getattr(widget, "options", None) or [])]
    for kind in ("download_button",):
        out += [b.proto.label for b in at.get(kind)]
    out += [str(c) for d in at.dataframe for c in d.value.columns]
    for chart in at.get("plotly_chart"):
        layout = json.loads(chart.proto.spec)["layout"]
        out.append(str(layout.get("title", {}).get("text", "")))
        for axis in ("xaxis", "yaxis"):
            out.append(str(layout.get(axis, {}).get("title", {}).get("text", "")))
        out += [str(a.get("text", "")) for a in layout.get("annotations", [])]
    return out


def _english(at, allowed: set[str]) -> list[str]:
    found = []
    for text in _visible(at):
        plain = re.sub(r"<style>.*?</style>", " ", text, flags=re.S)  # the page's stylesheet (not shown)
        plain = re.sub(r"<[^>]+>", " ", plain)  # the markup of highlighted cards
        plain = re.sub(r"\b[A-Z]+(_[A-Z]+)+\b", " ", plain)  # an environment variable named for the administrator
        plain = re.sub(r"&#?\w+;", " ", plain)  # character references
        plain = re.sub(r"\b[A-Z]+(-[A-Z0-9]+)+\b", " ", plain)  # ids: DEMO-P-001, TEXT-...
        plain = re.sub(r"\S*[/\\]\S*|\b\w+\.(toml|sqlite|json|csv|xlsx|parquet)\b", " ", plain)  # paths, file names
        found += [w for w in re.findall(r"[A-Za-z]{2,}", plain) if w not in allowed]
    return sorted(set(found))


def test_no_english_on_any_page(app_env, nightly_run):
    app_env.setenv("MATCHER_EXPORT_DIR", str(nightly_run))
    allowed = ALLOWED | _data_words()
    at = new_app().run()
    assert _english(at, allowed) == []  # the login form
    at = pick_demand(login(new_app()))
    _item = _add_top_pair(at)
    pages = {}
    at.switch_page(BROWSE).run()
    _button(at, "生成下载文件").click()
    at.run()
    pages["browse"] = _english(at, allowed)
    pick_patent(at, "DEMO-P-001")
    pages["browse patent"] = _english(at, allowed)
    _paste(at, "😀")
    pages["browse text"] = _english(at, allowed)
    for name, path in (("tracking", TRACKING), ("batch", BATCH), ("overview", OVERVIEW)):
        at.switch_page(path).run()
        _no_errors(at)
        pages[name] = _english(at, allowed)
    viewer = login(new_app(), VIEWER)
    viewer.switch_page(TRACKING).run()
    pages["tracking (viewer)"] = _english(viewer, allowed)
    assert pages == {name: [] for name in pages}


def test_streamlit_settings_hide_the_developer_menu():
    """No developer menu, no error details, and no file watcher (it would offer officers an English "Rerun" after a
    deployment replaces the app's files)."""
    import tomllib
    from pathlib import Path

    settings = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert settings["client"]["toolbarMode"] == "viewer" and settings["client"]["showErrorDetails"] == "none"
    assert settings["server"]["fileWatcherType"] == "none"


# ----------------------------------------------------------------------------- 11. charts and the nightly cap
def test_charts_in_the_degree_unit_and_empty_states(app_env):
    from matcher.workbench import charts

    at = login(new_app())
    at.switch_page(OVERVIEW).run()
    _no_errors(at)
    specs = {json.loads(c.proto.spec)["layout"]["title"]["text"]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    scores = next(v for k, v in specs.items() if k.startswith("匹配度分布"))
    assert scores["layout"]["xaxis"]["range"] == [0, 100] and scores["layout"]["xaxis"]["title"]["text"] == "匹配度"
    empty = [v for k, v in specs.items() if k.startswith(("推送漏斗", "各行业推送状态", "推送到回复的天数"))]
    assert len(empty) == 3 and all("暂无数据" in v["layout"]["annotations"][0]["text"] for v in empty)
    assert all(v["layout"]["xaxis"]["visible"] is False for v in empty)  # no empty axis
    one = charts.reply_times(pd.DataFrame({"days": [3.0], "industry": ["新材料"]})).to_plotly_json()["layout"]
    assert one["xaxis"]["range"][0] == 0 and one["xaxis"]["range"][1] > 3


def test_the_nightly_page_caps_lists_per_target(app_env, nightly_run):
    app_env.setenv("MATCHER_EXPORT_DIR", str(nightly_run))
    at = login(new_app())
    at.switch_page(BATCH).run()
    _no_errors(at)
    assert "matcher match" not in _texts(at)
    table = at.dataframe[0].value
    assert table.groupby("专利号")["企业/需求编号"].nunique().max() > 3
    at.sidebar.number_input(key="b_max_per_target").set_value(3).run()
    _no_errors(at)
    capped = at.dataframe[0].value
    assert capped.groupby("专利号").size().max() == 3
    best = table.sort_values(["排名", "匹配度"], ascending=[True, False], kind="stable").groupby("专利号").head(3)
    pairs = lambda t: set(zip(t["专利号"], t["企业/需求编号"]))  # noqa: E731
    assert pairs(capped) == pairs(best)
