"""Tests for matcher.ingest: readers, validation, error messages and the real-source adapters."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from matcher.errors import InputError
from matcher.ingest import (
    SOURCES,
    LoadResult,
    SkippedRow,
    load_bdci_patents,
    load_records,
    load_registry_companies,
    load_source,
    load_zhibei_demands,
    load_zhibei_offers,
    parse_mapping,
    read_table,
    shared_dir,
    validate_frame,
)
from matcher.ingest.clean import MAX_TEXT_CHARS, clean_text
from matcher.ingest.readers import detect_delimiter
from matcher.schema import ENTERPRISE_SCHEMA, PATENT_SCHEMA, Kind, schema_for

PATENTS = [
    {"id": "CN101", "title": "一种石墨烯复合材料的制备方法", "abstract": "本发明公开了一种石墨烯复合材料，导热性能好。"},
    {"id": "CN102", "title": "基于深度学习的焊缝缺陷检测系统", "abstract": "利用卷积神经网络识别焊缝图像中的缺陷。"},
    {"id": "CN103", "title": "一种锂电池正极材料", "abstract": "提高了锂离子电池的循环寿命与安全性。"},
]
RARE = "𠀀"  # U+20000: encodable in GB18030 (4 bytes) but not in GBK


def error_text(exc_info: pytest.ExceptionInfo) -> str:
    """Return the user-facing message of a raised InputError."""
    return str(exc_info.value)


def write_csv(path: Path, rows: list[dict], *, encoding: str = "utf-8", sep: str = ",") -> Path:
    """Write rows as a delimited text file in the given encoding."""
    pd.DataFrame(rows).to_csv(path, index=False, encoding=encoding, sep=sep)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    """Write rows as JSON Lines (UTF-8, Chinese kept as is)."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def assert_patents(result: LoadResult, rows: list[dict] = PATENTS) -> None:
    """Check a LoadResult holds exactly `rows` in canonical patent form."""
    frame = result.frame
    assert list(frame.columns) == list(PATENT_SCHEMA.columns)
    assert isinstance(frame.index, pd.RangeIndex)
    assert frame[["id", "title", "abstract"]].to_dict("records") == rows
    assert all(isinstance(v, str) for v in frame.to_numpy().ravel())
    assert result.skipped == []


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("name", "writer"),
    [
        ("utf8.csv", lambda p, rows: write_csv(p, rows)),
        ("utf8_bom.csv", lambda p, rows: write_csv(p, rows, encoding="utf-8-sig")),
        ("gbk.csv", lambda p, rows: write_csv(p, rows, encoding="gbk")),
        ("tabs.tsv", lambda p, rows: write_csv(p, rows, sep="\t")),
        ("book.xlsx", lambda p, rows: pd.DataFrame(rows).to_excel(p, index=False, engine="openpyxl")),
        ("records.jsonl", write_jsonl),
        ("records.json", lambda p, rows: p.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")),
        ("table.parquet", lambda p, rows: pd.DataFrame(rows).to_parquet(p)),
    ],
)
def test_every_format_round_trips_chinese(tmp_path: Path, name: str, writer) -> None:
    path = tmp_path / name
    writer(path, PATENTS)
    result = load_records(path, "patent")
    assert_patents(result)
    assert (result.frame["applicant"] == "").all()
    assert result.kind is Kind.PATENT
    assert result.file == str(path)


def test_gb18030_csv_with_character_outside_gbk(tmp_path: Path) -> None:
    rows = [dict(PATENTS[0], abstract=PATENTS[0]["abstract"] + RARE)]
    path = write_csv(tmp_path / "gb18030.csv", rows, encoding="gb18030")
    with pytest.raises(UnicodeEncodeError):
        rows[0]["abstract"].encode("gbk")
    assert_patents(load_records(path, Kind.PATENT), rows)


def test_explicit_encoding_overrides_detection(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "big5.csv", [{"id": "1", "title": "專利", "abstract": "繁體摘要"}], encoding="big5")
    frame = read_table(path, encoding="big5")
    assert frame.loc[0, "abstract"] == "繁體摘要"


def test_read_table_gives_strings_stripped_headers_and_empty_missing(tmp_path: Path) -> None:
    path = tmp_path / "mixed.parquet"
    pd.DataFrame({" id ": [1, 2], "price ": [1.5, None], "note": ["x", None]}).to_parquet(path)
    frame = read_table(path)
    assert list(frame.columns) == ["id", "price", "note"]
    assert frame.to_dict("records") == [{"id": "1", "price": "1.5", "note": "x"}, {"id": "2", "price": "", "note": ""}]


def test_xlsx_numbers_blanks_and_sheet_choice(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="说明", index=False)
        pd.DataFrame({"编号": [101, 102], "名称": ["甲", "乙"], "摘要": ["摘要一", None]}).to_excel(
            writer, sheet_name="专利", index=False)
    frame = read_table(path, sheet="专利")
    assert frame.to_dict("records") == [{"编号": "101", "名称": "甲", "摘要": "摘要一"},
                                        {"编号": "102", "名称": "乙", "摘要": ""}]
    assert list(read_table(path, sheet=1).columns) == ["编号", "名称", "摘要"]
    with pytest.raises(InputError) as info:
        read_table(path, sheet="Sheet9")
    assert all(s in error_text(info) for s in ("book.xlsx", "Sheet9", "说明", "专利", "--sheet"))


def test_json_file_with_json_lines_content_is_accepted(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "lines.json", PATENTS)
    assert_patents(load_records(path, "patent"))


# ---------------------------------------------------------------- columns, aliases, mapping


def test_chinese_header_aliases_patent(tmp_path: Path) -> None:
    rows = [{"专利号": r["id"], "发明名称": r["title"], "摘要": r["abstract"], "申请人": "清华大学", "IPC": "H01M"}
            for r in PATENTS]
    result = load_records(write_csv(tmp_path / "中文表头.csv", rows, encoding="gbk"), "patent")
    assert_patents(result)
    assert set(result.frame["applicant"]) == {"清华大学"}
    assert set(result.frame["ipc"]) == {"H01M"}


def test_chinese_header_aliases_enterprise_case_insensitive(tmp_path: Path) -> None:
    rows = [{"ID": "E1", "企业名称": "某某科技有限公司", "经营范围": "新材料技术开发", "所在省份": "江苏", "Description": "x"}]
    frame = load_records(write_csv(tmp_path / "ents.csv", rows), "enterprise").frame
    assert list(frame.columns) == list(ENTERPRISE_SCHEMA.columns)
    assert frame.iloc[0].to_dict() == {"id": "E1", "name": "某某科技有限公司", "text": "新材料技术开发", "industry": "",
                                       "region": "江苏", "size": "", "capital": "", "registered": "",
                                       "budget": "", "cooperation": "", "contact": "", "phone": "", "email": ""}


def test_explicit_mapping_wins_over_aliases(tmp_path: Path) -> None:
    rows = [{"编号": r["id"], "名称": r["title"], "摘要": "旧", "摘要内容": r["abstract"]} for r in PATENTS]
    path = write_csv(tmp_path / "mapped.csv", rows)
    assert_patents(load_records(path, "patent", mapping=parse_mapping("abstract=摘要内容")))


def test_parse_mapping() -> None:
    assert parse_mapping("abstract=摘要内容, title = 名称") == {"abstract": "摘要内容", "title": "名称"}
    assert parse_mapping(["abstract=摘要内容", "id=编号，title=名称"]) == {"abstract": "摘要内容", "id": "编号",
                                                                     "title": "名称"}
    assert parse_mapping("") == {} and parse_mapping(None) == {}


@pytest.mark.parametrize("spec", ["abstract", "abstract=", "=摘要", "abstract=摘要,title:名称", "title=a,title=b"])
def test_parse_mapping_bad_syntax(spec: str) -> None:
    with pytest.raises(InputError) as info:
        parse_mapping(spec)
    assert "column=header" in error_text(info) or "mapped twice" in error_text(info)


def test_missing_column_suggests_closest_header_and_map_option(tmp_path: Path) -> None:
    rows = [{"id": r["id"], "title": r["title"], "摘要内容": r["abstract"]} for r in PATENTS]
    with pytest.raises(InputError) as info:
        load_records(write_csv(tmp_path / "patents.csv", rows), "patent")
    text = error_text(info)
    assert info.value.column == "abstract"
    for part in ("patents.csv", "'abstract'", "headers found", "'摘要内容'", "did you mean", "--map abstract=摘要内容"):
        assert part in text


def test_misspelt_column_is_suggested(tmp_path: Path) -> None:
    rows = [{"id": r["id"], "title": r["title"], "abstarct": r["abstract"]} for r in PATENTS]
    with pytest.raises(InputError) as info:
        load_records(write_csv(tmp_path / "typo.csv", rows), "patent")
    assert "typo.csv" in error_text(info) and "--map abstract=abstarct" in error_text(info)


def test_missing_column_without_close_header(tmp_path: Path) -> None:
    rows = [{"id": "1", "title": "t", "zzz": "q"}]
    with pytest.raises(InputError) as info:
        load_records(write_csv(tmp_path / "nothing.csv", rows), "patent")
    assert "nothing.csv" in error_text(info) and "--map abstract=<header>" in error_text(info)


def test_mapping_to_absent_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "patents.csv", PATENTS)
    with pytest.raises(InputError) as info:
        load_records(path, "patent", mapping={"abstract": "摘要内容"})
    text = error_text(info)
    assert all(s in text for s in ("patents.csv", "abstract=摘要内容", "not in the file", "'title'", "--map"))


def test_mapping_to_unknown_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "patents.csv", PATENTS)
    with pytest.raises(InputError) as info:
        load_records(path, "patent", mapping={"summary": "abstract"})
    assert "patents.csv" in error_text(info) and "'summary'" in error_text(info) and "abstract" in error_text(info)


# ---------------------------------------------------------------- row validation


def test_duplicate_ids_name_both_rows(tmp_path: Path) -> None:
    rows = PATENTS + [dict(PATENTS[1], title="另一项")]
    with pytest.raises(InputError) as info:
        load_records(write_csv(tmp_path / "dups.csv", rows), "patent")
    text = error_text(info)
    assert info.value.row == 4 and info.value.column == "id"
    assert all(s in text for s in ("dups.csv", "'CN102'", "rows 2 and 4", "first data row", "unique"))


def test_duplicate_ids_after_whitespace_strip(tmp_path: Path) -> None:
    rows = [PATENTS[0], dict(PATENTS[1], id=" CN101 ")]
    with pytest.raises(InputError, match="rows 1 and 2"):
        load_records(write_csv(tmp_path / "dups.csv", rows), "patent")


def test_empty_texts_are_skipped_and_reported(tmp_path: Path) -> None:
    rows = [
        PATENTS[0],
        dict(PATENTS[1], abstract=""),
        dict(PATENTS[2], title="   "),
        {"id": "", "title": "无编号", "abstract": "有摘要"},
        {"id": "CN105", "title": "  标题  ", "abstract": " 摘要 "},
    ]
    result = load_records(write_csv(tmp_path / "patents.csv", rows), "patent")
    assert result.frame["id"].tolist() == ["CN101", "CN105"]
    assert result.frame.loc[1, ["title", "abstract"]].tolist() == ["标题", "摘要"]
    assert result.skipped == [SkippedRow(2, "abstract", "empty 'abstract'"), SkippedRow(3, "title", "empty 'title'"),
                              SkippedRow(4, "id", "empty 'id'")]
    assert result.rows_read == 5
    assert result.report() == ("patents.csv: 5 rows read, 2 kept, 3 skipped (row 2: empty 'abstract'; "
                               "row 3: empty 'title'; row 4: empty 'id')")


def test_report_lists_at_most_ten_skipped_rows(tmp_path: Path) -> None:
    rows = [PATENTS[0]] + [{"id": f"X{i}", "title": f"t{i}", "abstract": ""} for i in range(15)]
    report = load_records(write_jsonl(tmp_path / "many.jsonl", rows), "patent").report()
    assert report.startswith("many.jsonl: 16 rows read, 1 kept, 15 skipped (row 2: empty 'abstract';")
    assert "row 11: empty 'abstract'; ... and 5 more)" in report
    assert "row 12" not in report


def test_all_rows_empty_is_an_error(tmp_path: Path) -> None:
    rows = [{"id": r["id"], "title": r["title"], "abstract": " "} for r in PATENTS]
    with pytest.raises(InputError) as info:
        load_records(write_csv(tmp_path / "blank.csv", rows), "patent")
    text = error_text(info)
    assert all(s in text for s in ("blank.csv", "all 3 rows were skipped", "'abstract'", "--map abstract="))


def test_header_only_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("id,title,abstract\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"header\.csv.*no data rows"):
        load_records(path, "patent")


def test_validate_frame_accepts_any_cell_types() -> None:
    df = pd.DataFrame({"id": [1, 2], "title": ["标题", "题"], "abstract": ["摘要", "文"], "price": [3.0, float("nan")]},
                      index=[10, 20])
    result = validate_frame(df, "patent", file="memory")
    assert result.frame[["id", "price"]].to_dict("records") == [{"id": "1", "price": "3"}, {"id": "2", "price": ""}]
    assert isinstance(result.frame.index, pd.RangeIndex) and result.file == "memory"


# ---------------------------------------------------------------- unreadable input


def test_undecodable_bytes_with_forced_utf8(tmp_path: Path) -> None:
    path = tmp_path / "sjis.csv"
    path.write_bytes("id,title,abstract\n1,a,b\n".encode() + "2,テスト,説明\n".encode("shift_jis"))
    with pytest.raises(InputError) as info:
        read_table(path, encoding="utf-8")
    text = error_text(info)
    assert all(s in text for s in ("sjis.csv", "UTF-8", "line 3", "byte offset 26", "UTF-8", "--encoding"))


def test_undecodable_random_bytes_auto_detect(tmp_path: Path) -> None:
    path = tmp_path / "noise.csv"
    path.write_bytes(b"id,title,abstract\n" + bytes([0xFF, 0x80, 0xFE, 0x00, 0xFF]) * 20)
    with pytest.raises(InputError) as info:
        read_table(path)
    assert all(s in error_text(info) for s in ("noise.csv", "UTF-8 or GB18030", "line 2", "byte offset 18",
                                               "--encoding"))


def test_unknown_encoding_name(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", PATENTS)
    with pytest.raises(InputError, match=r"p\.csv.*unknown encoding 'utf-9'"):
        read_table(path, encoding="utf-9")


def test_ragged_csv_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("id,title,abstract\n1,a,b\n2,a,b,c,d\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_table(path)
    assert all(s in error_text(info) for s in ("ragged.csv", "line 3", "quote"))


@pytest.mark.parametrize("name", ["corrupt.xlsx", "corrupt.parquet"])
def test_corrupt_binary_files(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04 this is not really a workbook \x00\xff" * 10)
    with pytest.raises(InputError) as info:
        read_table(path)
    text = error_text(info)
    assert name in text and "not a valid" in text and "CSV UTF-8" in text


def test_csv_renamed_to_xlsx(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "really_csv.xlsx", PATENTS)
    with pytest.raises(InputError, match=r"really_csv\.xlsx.*not a valid \.xlsx"):
        read_table(path)


def test_malformed_jsonl_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    lines = [json.dumps(PATENTS[0], ensure_ascii=False), "", '{"id": "CN102", "title": "缺引号}', "{}"]
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_table(path)
    assert all(s in error_text(info) for s in ("bad.jsonl", "line 3", "not valid JSON", "JSON object"))


def test_jsonl_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    path.write_text('{"id": "1"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"list\.jsonl.*line 2 is a JSON array"):
        read_table(path)


def test_json_that_is_not_an_array_of_objects(tmp_path: Path) -> None:
    path = tmp_path / "obj.json"
    path.write_text('{"id": "1", "title": "x"', encoding="utf-8")
    with pytest.raises(InputError, match=r"obj\.json.*not valid JSON"):
        read_table(path)
    path.write_text('{"rows": []}', encoding="utf-8")
    with pytest.raises(InputError, match=r"obj\.json.*array of objects"):
        read_table(path)


@pytest.mark.parametrize(("name", "hint"), [("patents.docx", "convert it"), ("old.xls", "save it as .xlsx"),
                                            ("noext", "convert it")])
def test_unknown_extension(tmp_path: Path, name: str, hint: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"x")
    with pytest.raises(InputError) as info:
        read_table(path)
    assert name in error_text(info) and "unsupported file type" in error_text(info) and hint in error_text(info)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_records(tmp_path / "nope.csv", "patent")
    assert all(s in error_text(info) for s in ("nope.csv", "file not found", "check the path"))


@pytest.mark.parametrize(("name", "content"), [("zero.csv", b""), ("blank.csv", b"  \n\n"), ("zero.jsonl", b"\n")])
def test_empty_file(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_table(path)
    assert name in error_text(info) and "empty" in error_text(info)


def test_duplicate_headers_after_strip(tmp_path: Path) -> None:
    path = tmp_path / "dupcols.csv"
    path.write_text("id,title,title ,abstract\n1,a,b,c\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"dupcols\.csv.*'title' appears more than once"):
        read_table(path)


# ---------------------------------------------------------------- cleaning, length limit, separators


def test_control_and_format_characters_are_removed_and_reported(tmp_path: Path) -> None:
    rows = [
        {"id": "CN\x00101", "title": "一种\u200b石墨烯\x07材料", "abstract": "第一行\r\n第二行\t制表\x0b竖表\ufeff"},
        PATENTS[1],
        {"id": "CN103", "title": "锂电池", "abstract": "摘要", "applicant": "清华\u200d大学\x1b", "ipc": "H01M\x00"},
    ]
    result = load_records(write_csv(tmp_path / "dirty.csv", rows), "patent")
    assert result.frame.loc[0, ["id", "title", "abstract"]].tolist() == ["CN101", "一种石墨烯材料", "第一行\n第二行\t制表 竖表"]
    assert result.frame.loc[2, ["applicant", "ipc"]].tolist() == ["清华大学", "H01M"]
    assert [(n.row, n.column) for n in result.cleaned] == [(1, "id"), (1, "title"), (1, "abstract"),
                                                           (3, "applicant"), (3, "ipc")]
    assert result.truncated == []
    assert result.report() == ("dirty.csv: 3 rows read, 3 kept, 0 skipped; "
                               "5 cells cleaned of control / format characters (rows 1, 3)")


def test_enterprise_texts_and_optional_columns_are_cleaned(tmp_path: Path) -> None:
    rows = [{"id": "E1", "name": "\u200b甲公司\u200b", "text": "需求\x00描述", "industry": "制造\u2060业", "region": "浙江\x7f"}]
    result = load_records(write_jsonl(tmp_path / "ent.jsonl", rows), "enterprise")
    assert result.frame.loc[0, ["name", "text", "industry", "region"]].tolist() == ["甲公司", "需求描述", "制造业", "浙江"]
    assert len(result.cleaned) == 4


def test_over_long_texts_are_truncated_and_reported(tmp_path: Path) -> None:
    rows = [dict(PATENTS[0], abstract="长" * 1_000_000), dict(PATENTS[1], title="题" * (MAX_TEXT_CHARS + 1)),
            PATENTS[2], dict(PATENTS[0], id="CN104", abstract="正" * MAX_TEXT_CHARS)]
    result = load_records(write_csv(tmp_path / "long.csv", rows), "patent")
    lengths = result.frame[["title", "abstract"]].map(len).to_numpy().tolist()
    assert lengths[0][1] == lengths[1][0] == lengths[3][1] == MAX_TEXT_CHARS == 20_000
    assert [(n.row, n.column) for n in result.truncated] == [(1, "abstract"), (2, "title")]
    assert result.report() == ("long.csv: 4 rows read, 4 kept, 0 skipped; "
                               "2 texts truncated to 20,000 characters (rows 1, 2)")


def test_a_cell_of_only_invisible_characters_is_empty_and_skipped(tmp_path: Path) -> None:
    rows = [PATENTS[0], dict(PATENTS[1], abstract="\u200b\ufeff\x00 ")]
    result = load_records(write_jsonl(tmp_path / "blank.jsonl", rows), "patent")
    assert result.frame["id"].tolist() == ["CN101"]
    assert result.skipped == [SkippedRow(2, "abstract", "empty 'abstract'")]
    assert result.cleaned == []  # only kept rows are reported as cleaned


def test_clean_text_rules() -> None:
    assert clean_text("a\r\nb\rc\x85d\x0ce\x00f\u200bg\u00adh\ud800i\t\n") == "a\nb\nc d ef" + "ghi"
    assert clean_text("  " + "字" * 30 + "  ", limit=10) == "字" * 10
    assert clean_text("ab   cd", limit=4) == "ab"


def test_headers_with_invisible_characters_still_match(tmp_path: Path) -> None:
    df = pd.DataFrame({"\ufeffid": ["1"], "title\u200b": ["标题"], "摘要\x00": ["摘要"]})
    assert validate_frame(df, "patent").frame.loc[0, ["id", "title", "abstract"]].tolist() == ["1", "标题", "摘要"]
    twice = pd.DataFrame([["1", "a", "b", "c"]], columns=["id", "title", "\u200btitle", "abstract"])
    with pytest.raises(InputError, match=r"f\.csv.*'title' appears more than once"):
        validate_frame(twice, "patent", file="f.csv")


@pytest.mark.parametrize(("sep", "suffix"), [(";", ".csv"), ("|", ".csv"), ("\t", ".csv"), (",", ".csv"),
                                             (",", ".tsv"), (";", ".tsv")])
def test_the_delimiter_is_detected(tmp_path: Path, sep: str, suffix: str) -> None:
    rows = [dict(r, abstract=r["abstract"] + " 含, 逗号; 分号| 竖线") for r in PATENTS]
    result = load_records(write_csv(tmp_path / f"sep{suffix}", rows, sep=sep), "patent")
    assert_patents(result, rows)


def test_detect_delimiter_prefers_the_consistent_separator() -> None:
    assert detect_delimiter("id;title;abstract\n1;a, b, c;d\n2;e;f, g\n") == ";"
    assert detect_delimiter("id,title,abstract\n1,\"a;b;c;d\",x\n") == ","
    assert detect_delimiter("only\nx;y\n") == ","  # one column: the default
    assert detect_delimiter("a\tb\n1\t2\n", default="\t") == "\t"


def test_semicolon_file_no_longer_gets_the_map_hint(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("id;title;abstract\nCN1;标题;摘要, 含逗号\n", encoding="utf-8")
    assert load_records(path, "patent").frame.loc[0, "abstract"] == "摘要, 含逗号"


@pytest.mark.parametrize("header", ["id:title:abstract", "编号，名称，摘要", "id、title、abstract"])
def test_one_column_header_holding_separators_says_the_delimiter_looks_wrong(tmp_path: Path, header: str) -> None:
    path = tmp_path / "odd.csv"
    path.write_text(f"{header}\n1:a:b\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_records(path, "patent")
    text = error_text(info)
    assert "odd.csv" in text and "delimiter looks wrong" in text and "--map" not in text


def test_utf16_file_with_bom_is_read(tmp_path: Path) -> None:
    """Excel's "Unicode text" export: UTF-16 with a byte-order mark, tab-separated."""
    assert_patents(load_records(write_csv(tmp_path / "unicode.csv", PATENTS, encoding="utf-16", sep="\t"), "patent"))


def test_json_long_integers_raw_controls_and_line_separators(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    line = '{"id": %s, "title": "标题\u2028续", "abstract": "含\t制表符与\x01控制符"}\n' % ("9" * 5000)
    path.write_text(line, encoding="utf-8")
    frame = load_records(path, "patent").frame
    assert frame.loc[0, ["id", "title", "abstract"]].tolist() == ["9" * 5000, "标题\u2028续", "含\t制表符与控制符"]


def test_lone_surrogates_become_replacement_characters(tmp_path: Path) -> None:
    """Found by the fuzzer: a JSON escape \\ud800 (or a Python string) pandas' string columns cannot store."""
    path = tmp_path / "surrogate.json"
    path.write_text('[{"id": "1", "title": "\\ud800x", "abstract": ["\\udc00"], "\\ud83d\\ude00": "ok"}]',
                    encoding="utf-8")
    assert load_records(path, "patent").frame.loc[0, ["title", "abstract"]].tolist() == ["\ufffdx", '["\ufffd"]']
    frame = pd.DataFrame({"id": ["1"], "title": ["t\ud800"], "abstract": [b"\xff"]}, dtype=object)
    assert validate_frame(frame, "patent").frame.loc[0, ["title", "abstract"]].tolist() == ["t\ufffd", "\ufffd"]


def test_deeply_nested_json_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(InputError, match=r"deep\.json.*nested too deeply"):
        read_table(path)


# ---------------------------------------------------------------- source adapters (fixture files)


def test_bdci_adapter_translates_applicant_type(tmp_path: Path) -> None:
    rows = [{"id": f"p{i}", "title": "标题", "applicant": "某大学", "applicant_type": code, "abstract": "摘要",
             "label_id": "3", "label_source": "gold_train"}
            for i, code in enumerate(["university", "company", "research_institute", "individual", "other", "?"])]
    frame = load_bdci_patents(write_csv(tmp_path / "patents.csv", rows)).frame
    assert frame["applicant_type"].tolist() == ["高校", "企业", "科研院所", "个人", "其他", "?"]
    assert (frame["industry"] == "").all()


def test_zhibei_adapters(tmp_path: Path) -> None:
    demands = [{"id": "D1", "name": "防起球工艺", "postTime": "2020-01-13", "classification": "制造业",
                "cooperationMethod": "技术转让,技术许可", "time": "", "context": "寻求防起球技术"}]
    offers = [
        {"id": "T1", "name": "膜材料", "classification": "制造业——化学", "maturity": "已有样品", "price": "面议",
         "cooperationMethod": "完全转让许可转让", "industry": "新材料-膜材料", "context": "一种分离膜"},
        {"id": "T2", "name": "检测系统", "classification": "制造业——仪器", "maturity": "可以量产", "price": "面议",
         "cooperationMethod": "其他", "industry": "", "context": "机器视觉测量"},
    ]
    demand = load_zhibei_demands(write_jsonl(tmp_path / "demands.jsonl", demands)).frame.iloc[0]
    assert demand[["id", "name", "text", "industry", "cooperation"]].tolist() == [
        "D1", "防起球工艺", "寻求防起球技术", "制造业", "技术转让,技术许可"]
    frame = load_zhibei_offers(write_jsonl(tmp_path / "offers.jsonl", offers)).frame
    assert frame["title"].tolist() == ["膜材料", "检测系统"]
    assert frame["abstract"].tolist() == ["一种分离膜", "机器视觉测量"]
    assert frame["industry"].tolist() == ["新材料-膜材料", "制造业——仪器"]
    assert frame["license_mode"].tolist() == ["许可转让", ""]
    assert frame["maturity"].tolist() == ["已有样品", "可以量产"]


def test_registry_adapter_without_id_column(tmp_path: Path) -> None:
    rows = [{"企业名称": "甲公司", "统一社会信用代码": "X", "注册资金": "500(万元人民币)", "经营范围": "轴承生产", "所在省份": "浙江",
             "地区": "绍兴"},
            {"企业名称": "乙公司", "统一社会信用代码": "X", "注册资金": "", "经营范围": "软件开发", "所在省份": "", "地区": "无锡"}]
    path = tmp_path / "companies.parquet"
    pd.DataFrame(rows).to_parquet(path)
    frame = load_registry_companies(path).frame
    assert frame[["id", "name", "text", "region", "capital", "size", "industry"]].to_dict("records") == [
        {"id": "R000000", "name": "甲公司", "text": "轴承生产", "region": "浙江", "capital": "500(万元人民币)", "size": "",
         "industry": ""},
        {"id": "R000001", "name": "乙公司", "text": "软件开发", "region": "无锡", "capital": "", "size": "", "industry": ""}]


def test_adapter_on_wrong_file_names_the_column(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "demands.jsonl", [{"id": "D1", "name": "x", "描述": "y"}])
    with pytest.raises(InputError, match=r"demands\.jsonl.*text=context.*not in the file"):
        load_zhibei_demands(path)


def test_shared_dir_and_load_source_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHER_SHARED_DIR", str(tmp_path))
    assert shared_dir() == tmp_path
    with pytest.raises(InputError) as info:
        load_source("bdci_patents")
    text = error_text(info)
    assert str(tmp_path / "data/bdci_patents/patents.csv") in text and "MATCHER_SHARED_DIR" in text
    with pytest.raises(InputError, match="unknown data source 'patents'.*bdci_patents"):
        load_source("patents")
    monkeypatch.delenv("MATCHER_SHARED_DIR")
    assert shared_dir() == (Path(__file__).resolve().parents[1].parent / "shared").resolve()


def test_load_source_with_explicit_path(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "D1", "name": "需求", "context": "内容"}])
    result = load_source("zhibei_demands", path)
    assert result.kind is Kind.ENTERPRISE and result.frame["id"].tolist() == ["D1"]


# ---------------------------------------------------------------- source adapters (real data)


def real_file(name: str) -> Path:
    """Return the default location of a registered source under the shared folder."""
    return shared_dir() / SOURCES[name].default_path


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "rows_read", "kept", "kind"),
    [
        ("bdci_patents", 4097, 4097, Kind.PATENT),
        ("zhibei_demands", 1729, 1725, Kind.ENTERPRISE),  # 4 demands have no text
        ("zhibei_offers", 2812, 2672, Kind.PATENT),  # the file holds 2,812 offers; 140 have no description
        ("registry_companies", 20231, 20231, Kind.ENTERPRISE),
        ("registry_companies_200k", 200000, 200000, Kind.ENTERPRISE),
    ],
)
def test_real_sources(name: str, rows_read: int, kept: int, kind: Kind) -> None:
    if not real_file(name).exists():
        pytest.skip(f"{real_file(name)} is absent")
    result = load_source(name)
    assert (result.rows_read, len(result.frame), result.kind) == (rows_read, kept, kind)
    assert list(result.frame.columns) == list(schema_for(kind).columns)
    assert result.frame["id"].is_unique
    for column in schema_for(kind).required:
        assert result.frame[column].str.strip().ne("").all()
    assert f"{rows_read:,} rows read" in result.report()


@pytest.mark.shared
def test_real_bdci_details() -> None:
    if not real_file("bdci_patents").exists():
        pytest.skip("bdci patents absent")
    frame = load_source("bdci_patents").frame
    assert (frame["applicant_type"] == "高校").sum() == 961
    assert set(frame["applicant_type"]) <= {"高校", "企业", "科研院所", "个人", "其他"}


@pytest.mark.shared
def test_real_offers_details() -> None:
    if not real_file("zhibei_offers").exists():
        pytest.skip("zhibei offers absent")
    frame = load_source("zhibei_offers").frame
    assert frame["industry"].ne("").all()
    assert set(frame["license_mode"]) == {"许可转让", ""}
    assert frame["maturity"].ne("").all()


def test_registered_capital_is_read_in_the_registries_many_spellings() -> None:
    from matcher.text.capital import registered_capital

    cases = {"10,000(万元人民币)": 10_000.0, "3990813.182（万元）": 3_990_813.182, "40万人民币": 40.0, "1.2亿元": 12_000.0,
             "500000元": 50.0, "86()": 86.0, "731(万美元)": 731 * 7.0, "100(万元(港币))": 90.0, "5万": 5.0, 12.5: 12.5}
    for text, wanted in cases.items():
        assert registered_capital(text) == pytest.approx(wanted), text
    for unreadable in ("", "JEAN", "小型", None, float("nan"), -3):
        assert math.isnan(registered_capital(unreadable)), unreadable
