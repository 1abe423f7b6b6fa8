"""Property-based fuzzing (hypothesis) of the readers, the validator and the source adapters.

The property, for any file: `load_records` either returns records that are clean (canonical columns, strings
without control / format characters except newline and tab, none over MAX_TEXT_CHARS, unique non-empty ids and
texts) or raises a MatcherError whose message names the file. Any other exception fails the test. Every test has
an explicit example budget; the examples tried are counted and printed at the end of the module.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import sys
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.errors import MatcherError
from matcher.ingest import (
    MAX_TEXT_CHARS,
    LoadResult,
    load_bdci_patents,
    load_records,
    load_registry_companies,
    load_zhibei_demands,
    load_zhibei_offers,
    validate_frame,
)
from matcher.schema import Kind, schema_for

# Computed here, not taken from matcher.ingest.clean, so that the property checks the cleaning independently.
_UNWANTED = "".join(chr(c) for c in range(sys.maxunicode + 1)
                    if unicodedata.category(chr(c)) in ("Cc", "Cf", "Cs") and chr(c) not in "\n\t")
UNWANTED = re.compile("[" + re.escape(_UNWANTED) + "]")

# Examples per test (the whole module runs in about 20 s); MATCHER_FUZZ_SCALE=10 runs a deeper search by hand.
SCALE = float(os.environ.get("MATCHER_FUZZ_SCALE", "1"))
BUDGET = {name: max(1, int(count * SCALE)) for name, count in
          {"csv": 150, "jsonl": 120, "parquet": 50, "xlsx": 12, "bytes": 150, "validator": 150, "sources": 40}.items()}
FUZZ = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.data_too_large])
TRIED: dict[str, Counter] = {}

# ---------------------------------------------------------------- strategies

NASTY = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x0b", "\x0c", "\u200b", "\u200d", "\ufeff", "\u00ad", "\u202e",
         "\u2028", "\r\n", "\r", "\n", "\t", ",", ";", "|", '"', "'", "=", " ", "\u3000", "中", "摘要", "𠀀", "é"]
CHINESE = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=12)
PIECE = st.one_of(st.text(max_size=12), st.sampled_from(NASTY), CHINESE)
SHORT_TEXT = st.lists(PIECE, max_size=6).map("".join)
HUGE_TEXT = st.builds(lambda unit, count: (unit or "长") * count,
                      st.sampled_from(["长", "ab", "\u200b", "x\x00", "摘要。", " "]),
                      st.integers(MAX_TEXT_CHARS // 3 - 10, MAX_TEXT_CHARS // 2 + 30_000))
CELL = st.one_of(SHORT_TEXT, SHORT_TEXT, SHORT_TEXT, SHORT_TEXT, HUGE_TEXT)


def _header_names() -> list[str]:
    """Canonical names and every alias of both schemas (Chinese ones included)."""
    names: list[str] = []
    for kind in Kind:
        schema = schema_for(kind)
        names += list(schema.columns)
        names += [alias for aliases in schema.aliases.values() for alias in aliases]
    return names


HEADER = st.one_of(st.sampled_from(_header_names()), st.sampled_from(["", " ", "id ", "\ufeffid", "摘要\u200b",
                                                                       "id;title;abstract", "Unnamed: 0"]),
                   SHORT_TEXT)
HEADERS = st.lists(HEADER, min_size=1, max_size=7)  # duplicates and empty names included
KIND = st.sampled_from([Kind.PATENT, Kind.ENTERPRISE])


FILLED_TEXT = st.one_of(st.lists(PIECE, min_size=1, max_size=6).map("".join), HUGE_TEXT).map(lambda t: t + "文")


@st.composite
def tables(draw: st.DrawFn, cell: st.SearchStrategy = CELL,
           fix: Callable[[str], str] = str) -> tuple[Kind, list[str], list[list]]:
    """A record kind, a header and 0-5 rows of cells.

    Three times in four the header holds the kind's required columns (by canonical name or a Chinese alias) among
    noise columns, with unique ids and mostly filled texts, so that many files load and their records are checked;
    otherwise the header is random (aliases of the other kind, duplicates, empty names). `fix` is applied to the
    generated ids and required texts (the XLSX test removes what a workbook cannot hold).
    """
    kind = draw(KIND)
    schema = schema_for(kind)
    if draw(st.integers(0, 3)) == 0:
        headers = draw(HEADERS)
        rows = draw(st.lists(st.lists(cell, min_size=len(headers), max_size=len(headers)), max_size=5))
        return kind, headers, rows
    required = [draw(st.sampled_from([column, *schema.aliases[column]])) for column in schema.required]
    headers = draw(st.permutations(required + draw(st.lists(HEADER, max_size=3))))
    count = draw(st.integers(0, 5))
    rows = []
    for number in range(count):
        row = []
        for header in headers:
            if header == required[0]:
                row.append(fix(f"{number}{draw(st.sampled_from(['', 'CN', '号', chr(0x200b), chr(0)]))}"))
            elif header in required:
                row.append(draw(st.one_of(FILLED_TEXT.map(fix), FILLED_TEXT.map(fix), FILLED_TEXT.map(fix), cell)))
            else:
                row.append(draw(cell))
        rows.append(row)
    return kind, headers, rows


def encode(text: str, encoding: str) -> bytes:
    """Encode a text as a file would be saved: characters the codec lacks become '?'."""
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode(encoding, errors="replace")


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """The bytes unchanged (mostly), cut short, or with random bytes spliced in."""
    how = draw(st.sampled_from(["keep"] * 6 + ["cut", "splice"]))
    if how == "cut" and data:
        return data[:draw(st.integers(0, len(data) - 1))]
    if how == "splice":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    return data


# ---------------------------------------------------------------- the property


def check_load(path: Path, kind: Kind, counter: Counter, **options) -> LoadResult | None:
    """Load a file and check the property; count the outcome.

    Returns:
        The result when the file loaded, None when it was refused with a MatcherError naming it.
    """
    counter["examples"] += 1
    try:
        result = load_records(path, kind, **options)
    except MatcherError as exc:
        assert str(path) in str(exc), f"the message does not name the file: {exc}"
        counter["refused with a message naming the file"] += 1
        return None
    assert_clean(result, kind)
    counter["loaded with clean records"] += 1
    if result.truncated:
        counter["loaded with truncated texts"] += 1
    if result.cleaned:
        counter["loaded with cleaned cells"] += 1
    return result


def assert_clean(result: LoadResult, kind: Kind) -> None:
    """Check a LoadResult's records: canonical columns, clean bounded strings, unique ids, non-empty texts."""
    schema = schema_for(kind)
    frame = result.frame
    assert list(frame.columns) == list(schema.columns)
    assert isinstance(frame.index, pd.RangeIndex) and len(frame) > 0
    for value in frame.to_numpy().ravel():
        assert isinstance(value, str)
        assert len(value) <= MAX_TEXT_CHARS
        assert UNWANTED.search(value) is None, f"unclean value {value[:80]!r}"
        assert value == value.strip()
    assert frame["id"].is_unique
    assert frame[list(schema.required)].ne("").all().all()
    assert result.rows_read == len(frame) + len(result.skipped)
    assert isinstance(result.report(), str)


@pytest.fixture(scope="module", autouse=True)
def examples_summary(request: pytest.FixtureRequest):
    """Print the examples tried per test (and their outcomes) once the module has run."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not TRIED:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        for name, counter in TRIED.items():
            outcomes = ", ".join(f"{key} {value}" for key, value in counter.items() if key != "examples")
            reporter.write_line(f"fuzz {name}: {counter['examples']} examples ({outcomes})")


# ---------------------------------------------------------------- readers


def test_fuzz_csv(tmp_path: Path) -> None:
    """Delimited files: any table, delimiter, quoting, encoding (utf-8, BOM, gbk, gb18030, utf-16), damage."""

    @settings(FUZZ, max_examples=BUDGET["csv"])
    @given(table=tables(), sep=st.sampled_from([",", ";", "\t", "|"]),
           quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
           codec=st.sampled_from(["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"]),
           suffix=st.sampled_from([".csv", ".tsv"]), forced=st.sampled_from([None] * 6 + ["same", "utf-8", "latin-1",
                                                                                      "utf-9"]),
           data=st.data())
    def run(table, sep, quoting, codec, suffix, forced, data) -> None:
        kind, headers, rows = table
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, delimiter=sep, quoting=quoting)
        writer.writerow(headers)
        writer.writerows(rows)
        raw = encode(buffer.getvalue(), codec)
        path = tmp_path / f"fuzz{suffix}"
        path.write_bytes(data.draw(damaged(raw)))
        check_load(path, kind, counter, encoding=codec if forced == "same" else forced)

    counter: Counter = Counter()
    TRIED["csv"] = counter
    run()
    assert counter["examples"] >= BUDGET["csv"] // 2


BIG_INT = "<a 5,000-digit integer>"  # json.dumps cannot write one (Python's 4,300-digit limit): spliced in


def json_values() -> st.SearchStrategy:
    """JSON cell values: texts, numbers (huge ones too), booleans, null, nested lists / objects."""
    scalars = st.one_of(CELL, st.integers(), st.just(BIG_INT), st.floats(), st.booleans(), st.none(),
                        st.sampled_from(["\ud800", "x\udfffy"]))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(SHORT_TEXT, inner, max_size=3)),
                        max_leaves=6)


def test_fuzz_json_and_jsonl(tmp_path: Path) -> None:
    """JSON Lines and JSON arrays: any keys (aliases, empty, near-duplicates), any values, encodings, damage."""

    @settings(FUZZ, max_examples=BUDGET["jsonl"])
    @given(table=tables(cell=json_values()),
           extra=st.lists(st.sampled_from(["", "   ", "", "   ", "[1, 2]", "42", "{broken", "null", '"text"']),
                          max_size=1),
           ascii_only=st.booleans(), codec=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]),
           suffix=st.sampled_from([".jsonl", ".ndjson", ".json"]), array=st.booleans(), data=st.data())
    def run(table, extra, ascii_only, codec, suffix, array, data) -> None:
        kind, keys, values = table
        records = [dict(zip(keys, row)) for row in values]
        if array and suffix == ".json":
            text = json.dumps(records, ensure_ascii=ascii_only)
        else:
            lines = [json.dumps(r, ensure_ascii=ascii_only) for r in records] + extra
            text = "\n".join(data.draw(st.permutations(lines))) if lines else ""
        path = tmp_path / f"fuzz{suffix}"
        text = text.replace(json.dumps(BIG_INT), "9" * 5000)
        path.write_bytes(data.draw(damaged(encode(text, codec))))
        check_load(path, kind, counter)

    counter: Counter = Counter()
    TRIED["json / jsonl"] = counter
    run()
    assert counter["examples"] >= BUDGET["jsonl"] // 2


PARQUET_COLUMN = st.sampled_from(["string"] * 5 + ["int", "float", "bool", "timestamp", "binary", "list", "null",
                                                  "dict"])


def _arrow_column(kind: str, cells: list[str]) -> pa.Array:
    """An Arrow column of a given type with as many values as `cells`, some missing."""
    n = len(cells)
    if kind == "int":
        return pa.array([None if i % 3 == 2 else len(c) * 10**12 for i, c in enumerate(cells)], pa.int64())
    if kind == "float":
        return pa.array([float("nan") if i % 2 else len(c) / 3 for i, c in enumerate(cells)], pa.float64())
    if kind == "bool":
        return pa.array([bool(len(c) % 2) for c in cells])
    if kind == "timestamp":
        return pa.array([dt.datetime(2020, 1, 1 + i % 28, i % 24) for i in range(n)], pa.timestamp("us"))
    if kind == "binary":
        return pa.array([c.encode("utf-8", errors="surrogatepass")[:50] + b"\xff" for c in cells], pa.binary())
    if kind == "list":
        return pa.array([[c[:5], c[5:10]] for c in cells], pa.list_(pa.string()))
    if kind == "null":
        return pa.nulls(n)
    if kind == "dict":
        return pa.array(cells).dictionary_encode()
    return pa.array([None if c == "" else c for c in cells], pa.string())


def test_fuzz_parquet(tmp_path: Path) -> None:
    """Parquet: any column names (duplicates too), column types (text, numbers, times, bytes, lists, nulls), damage."""

    @settings(FUZZ, max_examples=BUDGET["parquet"])
    @given(table=tables(), types=st.lists(PARQUET_COLUMN, min_size=12, max_size=12), data=st.data())
    def run(table, types, data) -> None:
        kind, headers, rows = table
        columns = [_arrow_column(types[j], [row[j] for row in rows]) for j in range(len(headers))]
        buffer = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_arrays(columns, names=headers), buffer)
        path = tmp_path / "fuzz.parquet"
        path.write_bytes(data.draw(damaged(buffer.getvalue().to_pybytes())))
        check_load(path, kind, counter)

    counter: Counter = Counter()
    TRIED["parquet"] = counter
    run()
    assert counter["examples"] >= BUDGET["parquet"] // 2


XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # characters an .xlsx file cannot hold


def test_fuzz_xlsx(tmp_path: Path) -> None:
    """XLSX (few examples: slow): any headers, texts, numbers, dates, blanks, a second sheet, damage."""
    xlsx_cell = st.one_of(CELL.map(lambda text: XLSX_ILLEGAL.sub("", text)[:32_000]), st.integers(-10**15, 10**15),
                          st.floats(allow_nan=False, allow_infinity=False), st.none(),
                          st.dates(min_value=dt.date(1900, 3, 1)))

    @settings(FUZZ, max_examples=BUDGET["xlsx"])
    @given(table=tables(cell=xlsx_cell, fix=lambda text: XLSX_ILLEGAL.sub("", text)[:32_000]),
           sheets=st.integers(1, 2), data=st.data())
    def run(table, sheets, data) -> None:
        kind, headers, rows = table
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append([XLSX_ILLEGAL.sub("", h) or None for h in headers])
        for row in rows:
            sheet.append(row)
        if sheets == 2:
            book.create_sheet("第二页").append(["x"])
        buffer = io.BytesIO()
        book.save(buffer)
        path = tmp_path / "fuzz.xlsx"
        path.write_bytes(data.draw(damaged(buffer.getvalue())))
        check_load(path, kind, counter)

    counter: Counter = Counter()
    TRIED["xlsx"] = counter
    run()
    assert counter["examples"] >= BUDGET["xlsx"] // 2


def test_fuzz_random_bytes(tmp_path: Path) -> None:
    """Random bytes under every supported name, sometimes behind a plausible start (header, BOM, zip, Parquet)."""
    prefixes = [b"", b"", b"id,title,abstract\n", b"\xef\xbb\xbfid;name;text\n", b"\xff\xfe", b"PK\x03\x04",
                b"PAR1", b"[{", b'{"id": 1}\n']

    @settings(FUZZ, max_examples=BUDGET["bytes"])
    @given(prefix=st.sampled_from(prefixes), body=st.binary(max_size=600), kind=KIND,
           suffix=st.sampled_from([".csv", ".tsv", ".jsonl", ".json", ".xlsx", ".parquet"]),
           encoding=st.sampled_from([None, None, "gbk", "utf-16"]))
    def run(prefix, body, kind, suffix, encoding) -> None:
        path = tmp_path / f"random{suffix}"
        path.write_bytes(prefix + body)
        check_load(path, kind, counter, encoding=encoding)

    counter: Counter = Counter()
    TRIED["random bytes"] = counter
    run()
    assert counter["examples"] >= BUDGET["bytes"] // 2


# ---------------------------------------------------------------- validator and source adapters


ANY_CELL = st.one_of(CELL, st.integers(), st.floats(), st.none(), st.just(pd.NA), st.binary(max_size=8),
                     st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                     st.datetimes(dt.datetime(1700, 1, 1), dt.datetime(2200, 1, 1)).map(pd.Timestamp),
                     st.sampled_from(["\ud800", "\ud83d\ude00"]))  # in memory, lone surrogates are possible


def test_fuzz_validator() -> None:
    """validate_frame on in-memory tables: any header objects, any cell objects, any mapping."""
    columns = sorted({c for kind in Kind for c in schema_for(kind).columns} | {"bogus"})

    @settings(FUZZ, max_examples=BUDGET["validator"])
    @given(table=tables(cell=ANY_CELL), odd=st.lists(st.one_of(st.integers(), st.none()), max_size=2), data=st.data())
    def run(table, odd, data) -> None:
        kind, headers, rows = table
        headers = headers + odd  # header objects that are not strings
        rows = [row + [data.draw(ANY_CELL) for _ in odd] for row in rows]
        frame = pd.DataFrame(rows, columns=headers, dtype=object) if rows else pd.DataFrame(columns=headers)
        mapping = data.draw(st.none() | st.dictionaries(st.sampled_from(columns),
                                                        st.sampled_from([str(h) for h in headers] + ["absent"]),
                                                        max_size=2))
        counter["examples"] += 1
        try:
            result = validate_frame(frame, kind, file="memory.csv", mapping=mapping)
        except MatcherError as exc:
            assert "memory.csv" in str(exc)
            counter["refused with a message naming the file"] += 1
            return
        assert_clean(result, kind)
        counter["loaded with clean records"] += 1

    counter: Counter = Counter()
    TRIED["validator"] = counter
    run()
    assert counter["examples"] >= BUDGET["validator"] // 2


ADAPTERS = {
    "bdci_patents": (load_bdci_patents, Kind.PATENT, ["id", "title", "abstract", "applicant_type", "label_id"]),
    "zhibei_demands": (load_zhibei_demands, Kind.ENTERPRISE, ["id", "name", "context", "classification",
                                                              "cooperationMethod"]),
    "zhibei_offers": (load_zhibei_offers, Kind.PATENT, ["id", "name", "context", "industry", "classification",
                                                        "cooperationMethod", "maturity", "price"]),
    "registry_companies": (load_registry_companies, Kind.ENTERPRISE, ["id", "企业名称", "经营范围", "所在省份", "地区",
                                                                      "注册资金"]),
}


def test_fuzz_source_adapters(tmp_path: Path) -> None:
    """The real-source adapters on files with their columns (some missing, some extra) and fuzzed cells."""

    @settings(FUZZ, max_examples=BUDGET["sources"])
    @given(name=st.sampled_from(sorted(ADAPTERS)), data=st.data(), suffix=st.sampled_from([".csv", ".jsonl"]))
    def run(name, data, suffix) -> None:
        loader, kind, wanted = ADAPTERS[name]
        some = data.draw(st.lists(st.sampled_from(wanted), min_size=1, unique=True))
        headers = data.draw(st.sampled_from([wanted, some])) + data.draw(st.lists(HEADER, max_size=2, unique=True))
        headers = list(dict.fromkeys(headers))
        rows = [[f"{number}{cell}" if header == "id" else data.draw(FILLED_TEXT) for header in headers]
                for number, cell in enumerate(data.draw(st.lists(CELL, max_size=4)))]
        path = tmp_path / f"{name}{suffix}"
        if suffix == ".csv":
            buffer = io.StringIO(newline="")
            csv.writer(buffer).writerows([headers, *rows])
            path.write_text(buffer.getvalue(), encoding="utf-8")
        else:
            path.write_text("".join(json.dumps(dict(zip(headers, row))) + "\n" for row in rows) or "\n",
                            encoding="utf-8")
        counter["examples"] += 1
        try:
            result = loader(path)
        except MatcherError as exc:
            assert str(path) in str(exc)
            counter["refused with a message naming the file"] += 1
            return
        assert_clean(result, kind)
        counter["loaded with clean records"] += 1

    counter: Counter = Counter()
    TRIED["source adapters"] = counter
    run()
    assert counter["examples"] >= BUDGET["sources"] // 2


def test_property_checker_rejects_unclean_records() -> None:
    """The checker itself catches what the property forbids (so a passing fuzz run means something)."""
    good = validate_frame(pd.DataFrame({"id": ["1"], "title": ["t"], "abstract": ["a"]}), "patent")
    assert_clean(good, Kind.PATENT)
    for bad in ("a\x00b", "a\u200bb", "x" * (MAX_TEXT_CHARS + 1), "a\rb"):
        dirty = LoadResult(frame=good.frame.assign(abstract=[bad]), kind=Kind.PATENT)
        with pytest.raises(AssertionError):
            assert_clean(dirty, Kind.PATENT)
    with tempfile.TemporaryDirectory() as folder:
        counter: Counter = Counter()
        assert check_load(Path(folder) / "missing.csv", Kind.PATENT, counter) is None
        assert counter["refused with a message naming the file"] == 1
