"""The `matcher` command line (pipelines.main.app: the product's commands and the `matcher lab` group) in-process with
typer's CliRunner and the session's fast test encoder (MATCHER_ENCODER, tests/conftest.py): build from CSV / GBK CSV / XLSX, search in every direction with filters
and JSON output, clear exit-2 errors on bad input, upsert / delete, and `matcher lab evaluate` / `compare` on a tiny
BEIR benchmark."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.engine import Matcher
from matcher.lab.evaluate import mirror_records
from matcher.schema import Kind
from pipelines.main import app

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo"
PATENTS = DEMO / "patents.csv"
ENTERPRISES = DEMO / "enterprises.csv"

# Each demo demand was written for these patents (data/demo/README.md; checked against the texts).
INTENDED = {
    "DEMO-D-001": ["DEMO-P-049"],  # 针织围巾防起球 -> 针织面料抗起球整理
    "DEMO-D-002": ["DEMO-P-001"],  # 可降解购物袋薄膜 -> 可降解聚乳酸薄膜
    "DEMO-D-003": ["DEMO-P-007"],  # 注塑件外观缺陷检测 -> 机器视觉表面缺陷检测
    "DEMO-D-004": ["DEMO-P-009"],  # 数控车床尺寸漂移 -> 数控机床主轴热误差补偿
    "DEMO-D-006": ["DEMO-P-032"],  # 印染废水色度 -> 印染废水脱色絮凝剂
    "DEMO-D-009": ["DEMO-P-025", "DEMO-P-026"],  # 动力电池材料循环寿命 -> 高镍正极 / 硅碳负极
    "DEMO-D-012": ["DEMO-P-043"],  # 油性漆改水性漆 -> 水性聚氨酯涂料
    "DEMO-D-014": ["DEMO-P-058"],  # 刹车片无铜化 -> 无铜摩擦材料
    "DEMO-D-017": ["DEMO-P-012"],  # 仓库AGV调度 -> AGV多车调度系统
    "DEMO-D-020": ["DEMO-P-019"],  # 石斛精深加工 -> 铁皮石斛多糖提取
    "DEMO-D-023": ["DEMO-P-002"],  # LED散热垫片 -> 石墨烯导热硅胶垫片
    "DEMO-D-025": ["DEMO-P-054"],  # 坯布验布 -> 布匹瑕疵在线检测
}


@pytest.fixture(autouse=True)
def _shared_cache(monkeypatch, cache_dir):
    """Every command embeds through the session's shared cache with the session's default encoder (the fast one)."""
    monkeypatch.setenv("MATCHER_CACHE_DIR", str(cache_dir))


def run(*args, columns: int = 250):
    """Invoke the CLI in-process; COLUMNS fixes the width rich renders at (80 = a pipe or a log file)."""
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": str(columns)})


def ok(*args):
    res = run(*args)
    assert res.exit_code == 0, f"exit {res.exit_code}: {res.output}\n{res.exception!r}"
    return res


def search_json(index: Path, *args) -> dict:
    res = ok("search", *args, "--json", "--index-dir", index)
    return json.loads(res.stdout)


def assert_one_line_error(res, *fragments: str) -> str:
    """Exit code 2, no traceback, and exactly one non-empty line on stderr that names every fragment."""
    assert res.exit_code == 2, f"exit {res.exit_code}: {res.output}\n{res.exception!r}"
    assert "Traceback" not in res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected a one-line message, got {len(lines)} lines:\n{res.stderr}"
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def _frame(path: Path = PATENTS) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


# --------------------------------------------------------------------------- build
def test_build_from_the_demo_csv_files_prints_the_table(tmp_path, config):
    index = tmp_path / "index"
    res = ok("build", "--patents", PATENTS, "--enterprises", ENTERPRISES, "--index-dir", index)
    assert "index built at" in res.stdout  # (rich wraps the title, path included, to the table's width)
    rows = {line.split("│")[1].strip(): line for line in res.stdout.splitlines() if line.count("│") >= 4}
    assert "60" in rows["patent"] and "fast-test-encoder" in rows["patent"]
    assert "40" in rows["enterprise"] and "fast-test-encoder" in rows["enterprise"]
    assert "patents.csv: 60 rows read, 60 kept, 0 skipped" in res.stderr
    assert "enterprises.csv: 40 rows read, 40 kept, 0 skipped" in res.stderr
    built = Matcher.load(index, config)
    assert len(built.collection(Kind.PATENT)) == 60 and len(built.collection(Kind.ENTERPRISE)) == 40


@pytest.mark.parametrize("fmt", ["gbk", "xlsx"])
def test_build_from_a_gbk_csv_and_an_xlsx_copy(fmt, tmp_path, config, demo_patents):
    frame = _frame()
    if fmt == "gbk":
        source = tmp_path / "patents_gbk.csv"
        frame.to_csv(source, index=False, encoding="gbk")
        with pytest.raises(UnicodeDecodeError):  # really not UTF-8
            source.read_bytes().decode("utf-8")
    else:
        source = tmp_path / "patents.xlsx"
        frame.to_excel(source, index=False)
    index = tmp_path / "index"
    res = ok("build", "--patents", source, "--index-dir", index)
    assert f"{source.name}: 60 rows read, 60 kept, 0 skipped" in res.stderr
    assert "patent" in res.stdout and "60" in res.stdout
    records = Matcher.load(index, config).collection(Kind.PATENT).records
    cols = ["id", "title", "abstract", "applicant_type", "grant_date", "price"]
    pd.testing.assert_frame_equal(records[cols].reset_index(drop=True), demo_patents[cols].reset_index(drop=True),
                                  check_dtype=False)


# --------------------------------------------------------------------------- search
def test_search_a_demand_prints_a_table_led_by_the_intended_patent(demo_index):
    res = ok("search", "--demand", "DEMO-D-001", "-k", "3", "--index-dir", demo_index)
    lines = [line for line in res.stdout.splitlines() if "DEMO-P-" in line]
    assert len(lines) == 3
    assert "DEMO-P-049" in lines[0] and "│ 1 " in lines[0]
    assert "专利 排名 (top 3)" in res.stdout and "共同关键词" in res.stdout and "起球" in res.stdout
    assert "没有符合" not in res.stdout


def test_a_config_given_to_a_built_index_overrides_ranking_fields_aloud_and_refuses_index_fields(demo_index, tmp_path):
    # the index keeps its configuration: no --config needed; one given changes only what it sets, and says so
    ranking = tmp_path / "ranking.json"
    ranking.write_text(json.dumps({"key_terms": 3}), encoding="utf-8")
    res = ok("search", "--demand", "DEMO-D-001", "-k", "3", "--config", ranking, "--index-dir", demo_index)
    assert "overriding the configuration saved with the index" in res.stderr and "key_terms=3" in res.stderr
    assert "overriding" not in ok("search", "--demand", "DEMO-D-001", "-k", "3", "--index-dir", demo_index).stderr
    segmenting = tmp_path / "segmenting.json"
    segmenting.write_text(json.dumps({"segment_mode": "accurate"}), encoding="utf-8")
    assert_one_line_error(run("search", "锂电池", "--config", segmenting, "--index-dir", demo_index),
                          "segment_mode", "matcher build")


def test_search_json_in_all_three_directions(demo_index):
    demand = search_json(demo_index, "--demand", "DEMO-D-001", "-k", "5")
    patent = search_json(demo_index, "--patent", "DEMO-P-049", "-k", "4")
    text = search_json(demo_index, "锂电池 正极材料", "-k", "6")
    for out, k, prefix in ((demand, 5, "DEMO-P-"), (patent, 4, "DEMO-"), (text, 6, "DEMO-P-")):
        assert len(out["matches"]) == k
        assert [m["rank"] for m in out["matches"]] == list(range(1, k + 1))
        for m in out["matches"]:
            assert m["id"].startswith(prefix)
            assert isinstance(m["shared_terms"], list)
            assert isinstance(m["closest_sentence"], str) and m["closest_sentence"]
            assert {"dense", "bm25", "score"} <= set(m)
            assert m["record"]["id"] == m["id"]
        scores = [m["score"] for m in out["matches"]]
        assert scores == sorted(scores, reverse=True)
    assert demand["available"] == 60 and demand["matches"][0]["id"] == "DEMO-P-049"
    assert "起球" in demand["matches"][0]["shared_terms"]
    assert "起球" in demand["matches"][0]["closest_sentence"]
    # patent -> enterprises: ranks enterprises (never patents), the demand written for it included
    assert patent["available"] == 40
    assert all(not m["id"].startswith("DEMO-P-") for m in patent["matches"])
    assert "DEMO-D-001" in [m["id"] for m in patent["matches"]]
    # free text: the lithium cathode patent is near the top, and it shares the query's terms
    top3 = [m["id"] for m in text["matches"][:3]]
    assert "DEMO-P-025" in top3
    hit = next(m for m in text["matches"] if m["id"] == "DEMO-P-025")
    assert {"锂电池", "正极", "材料"} & set(hit["shared_terms"])


def test_search_filters_are_applied_and_empty_filters_say_so(demo_index):
    companies = _frame().query("applicant_type == '企业'")["id"].tolist()
    out = search_json(demo_index, "智能制造 视觉检测 材料", "-k", "10", "--filter", "applicant_type=企业")
    assert out["available"] == len(companies) == len(out["matches"])
    assert all(m["record"]["applicant_type"] == "企业" for m in out["matches"])
    assert sorted(m["id"] for m in out["matches"]) == sorted(companies)

    res = ok("search", "--demand", "DEMO-D-001", "--filter", "region=火星", "--index-dir", demo_index)
    assert "没有符合筛选条件的专利" in res.stdout
    assert "DEMO-P-" not in res.stdout

    bad = run("search", "材料", "--filter", "colour=red", "--index-dir", demo_index)
    assert_one_line_error(bad, "colour")


# --------------------------------------------------------------------------- bad input
def test_missing_abstract_column_is_named_and_map_fixes_it(tmp_path, config):
    source = tmp_path / "renamed.csv"
    _frame().rename(columns={"abstract": "摘要内容"}).to_csv(source, index=False)
    index = tmp_path / "index"
    line = assert_one_line_error(run("build", "--patents", source, "--index-dir", index, columns=80),
                                 str(source), "'abstract'", "--map abstract=摘要内容")
    assert "not found" in line
    assert not index.exists()

    res = ok("build", "--patents", source, "--map", "abstract=摘要内容", "--index-dir", index)
    assert "renamed.csv: 60 rows read, 60 kept" in res.stderr
    records = Matcher.load(index, config).collection(Kind.PATENT).records
    assert records.set_index("id").at["DEMO-P-049", "abstract"] == _frame().set_index("id").at["DEMO-P-049", "abstract"]


def test_error_messages_are_printed_verbatim_not_as_rich_markup(tmp_path):
    # headers are user data: '[/元]' must not be parsed as a rich closing tag (MarkupError -> traceback)
    source = tmp_path / "markup.csv"
    source.write_text("id,title,单价[/元],[bold]简介\nA1,一种装置,5,一种装置的说明\n", encoding="utf-8")
    assert_one_line_error(run("build", "--patents", source, "--index-dir", tmp_path / "index"),
                          str(source), "'abstract'", "'单价[/元]'", "'[bold]简介'")


def test_duplicate_ids_name_the_file_rows_and_column(tmp_path):
    frame = _frame().head(5)
    frame.loc[3, "id"] = frame.loc[1, "id"]
    source = tmp_path / "dupes.csv"
    frame.to_csv(source, index=False)
    assert_one_line_error(run("build", "--patents", source, "--index-dir", tmp_path / "index", columns=80),
                          str(source), "duplicate id 'DEMO-P-002'", "rows 2 and 4", "row 4", "column 'id'")


def test_corrupt_xlsx_names_the_file(tmp_path):
    source = tmp_path / "broken.xlsx"
    source.write_bytes(b"PK\x03\x04 this is not really a workbook" * 10)
    assert_one_line_error(run("build", "--patents", source, "--index-dir", tmp_path / "index", columns=80),
                          str(source), "not a valid .xlsx workbook")


def test_unknown_ids_and_a_missing_index(demo_index, tmp_path):
    assert_one_line_error(run("search", "--demand", "NOPE", "--index-dir", demo_index), "NOPE", "enterprise")
    assert_one_line_error(run("search", "--patent", "NOPE-P", "--index-dir", demo_index), "NOPE-P", "patent")
    missing = tmp_path / "no-index-here"
    assert_one_line_error(run("search", "锂电池", "--index-dir", missing, columns=80), str(missing), "matcher build")
    assert not missing.exists()
    assert_one_line_error(run("search", "锂电池", "--demand", "DEMO-D-001", "--index-dir", demo_index), "exactly one")


# --------------------------------------------------------------------------- upsert / delete
def test_upsert_then_search_then_delete(demo_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(demo_index, index)
    new = tmp_path / "new_patents.csv"
    pd.DataFrame([{
        "id": "NEW-P-001",
        "title": "一种蓝莓花青素的超声辅助提取纯化方法",
        "abstract": "本发明公开了一种蓝莓花青素的超声辅助提取纯化方法，以蓝莓果渣为原料，经酸化乙醇超声提取、"
                    "大孔树脂吸附纯化和低温浓缩干燥，得到高纯度花青素，提取率高，色泽稳定。",
        "applicant": "测试农业大学",
        "applicant_type": "高校",
    }]).to_csv(new, index=False)
    res = ok("upsert", "--patents", new, "--index-dir", index)
    assert "patent: 1 added, 0 replaced; 61 in the index" in res.stdout

    out = search_json(index, "蓝莓 花青素 提取", "-k", "3")
    assert out["available"] == 61 and out["matches"][0]["id"] == "NEW-P-001"
    assert "花青素" in out["matches"][0]["shared_terms"]

    res = ok("upsert", "--patents", new, "--index-dir", index)  # the same id again replaces it
    assert "patent: 0 added, 1 replaced; 61 in the index" in res.stdout

    res = ok("delete", "--patent", "NEW-P-001", "--index-dir", index)
    assert "patent: 1 deleted; 60 left" in res.stdout
    out = search_json(index, "蓝莓 花青素 提取", "-k", "60")
    assert out["available"] == 60 and "NEW-P-001" not in [m["id"] for m in out["matches"]]
    assert_one_line_error(run("search", "--patent", "NEW-P-001", "--index-dir", index), "NEW-P-001")
    assert_one_line_error(run("delete", "--patent", "NEW-P-001", "--index-dir", index), "NEW-P-001")
    # the session's demo index itself was not touched
    assert search_json(demo_index, "蓝莓 花青素 提取", "-k", "1")["available"] == 60


# --------------------------------------------------------------------------- evaluate
def _write_beir(folder: Path) -> Path:
    patents, demands = _frame(PATENTS), _frame(ENTERPRISES).set_index("id")
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for row in patents.itertuples():
            fh.write(json.dumps({"_id": row.id, "title": row.title, "text": row.abstract}, ensure_ascii=False) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for qid in INTENDED:
            fh.write(json.dumps({"_id": qid, "text": f"{demands.at[qid, 'name']}。{demands.at[qid, 'text']}"},
                                ensure_ascii=False) + "\n")
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{p}\t1" for q, ps in INTENDED.items() for p in ps]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_evaluate_prints_the_metrics_as_the_last_stdout_line(tmp_path):
    bench = _write_beir(tmp_path / "c2p-mini")
    res = ok("lab", "evaluate", bench)
    last = res.stdout.strip().splitlines()[-1]
    scores = json.loads(last)
    assert list(scores) == ["c2p-mini"]
    metrics = scores["c2p-mini"]
    assert set(metrics) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert metrics["ndcg@10"] > 0.5, metrics
    assert metrics["recall@100"] == 1.0  # 60 documents: every relevant one is ranked
    assert metrics["mrr@10"] > 0.5 and metrics["recall@10"] > 0.5, metrics
    assert "benchmark results" in res.stdout and "c2p-mini" in res.stdout


def test_evaluate_can_ask_the_queries_as_stored_records(tmp_path):
    """The query side's records are indexed too (by default the mirror benchmark's corpus beside the folder), so
    signals that need both sides (reciprocal ranks) take part."""
    bench = _write_beir(tmp_path / "c2p-mini")
    mirror = tmp_path / "p2c-mini" / "corpus.jsonl"
    mirror.parent.mkdir()
    with mirror.open("w", encoding="utf-8") as fh:
        for row in _frame(ENTERPRISES).itertuples():
            fh.write(json.dumps({"_id": row.id, "title": row.name, "text": row.text}, ensure_ascii=False) + "\n")
    config = tmp_path / "no-reciprocal.json"
    config.write_text(json.dumps({"fusion": {"enterprise->patent": {"method": "rrf", "weights": {
        "dense": 0.25, "bm25": 0.25, "items": 0.5, "portfolio": 1.0}}}}), encoding="utf-8")

    def metrics(*args):
        res = ok("lab", "evaluate", bench, *args)
        return json.loads(res.stdout.strip().splitlines()[-1])["c2p-mini"], res.stderr

    free, note = metrics("--query-records", "none")
    assert "stored records" not in note
    plain, note = metrics("--config", config)
    assert plain == free  # without the reciprocal signal, asking stored records changes nothing
    assert f"stored records of {mirror}" in " ".join(note.split())
    stored, _ = metrics()
    assert stored["recall@100"] == 1.0 and stored["ndcg@10"] > 0.5, stored
    assert metrics("--query-records", str(mirror))[0] == stored
    kw = _write_beir(tmp_path / "kw2p-mini")
    assert_one_line_error(run("lab", "evaluate", kw, "--query-records", mirror, columns=80), "query records", "c2p, p2c")
    assert mirror_records(bench) == mirror and mirror_records(mirror.parent) == bench / "corpus.jsonl"
    assert mirror_records(kw) is None and mirror_records(tmp_path / "c2p-other") is None


def test_evaluate_writes_rankings_that_compare_tests_for_significance(tmp_path):
    """`evaluate --runs` writes TREC run files whose scores are the printed metrics; `compare` tests two of them."""
    from matcher.lab.evaluate import load_beir, read_run, score_run

    bench = _write_beir(tmp_path / "c2p-mini")
    bm25_only = tmp_path / "bm25.json"
    bm25_only.write_text(json.dumps({"fusion": {"enterprise->patent": {"weights": {"bm25": 1.0}}}}), encoding="utf-8")
    printed = {}
    for name, args in (("full", ()), ("bm25", ("--config", bm25_only))):
        res = ok("lab", "evaluate", bench, "--runs", tmp_path / name, *args)
        printed[name] = json.loads(res.stdout.strip().splitlines()[-1])["c2p-mini"]
        assert f"ranking written to {tmp_path / name / 'c2p-mini.trec'}" in " ".join(res.stderr.split())
        ranking = read_run(tmp_path / name / "c2p-mini.trec")
        assert {m: round(v, 4) for m, v in score_run(ranking, load_beir(bench).qrels).items()} == printed[name]
    assert printed["full"] != printed["bm25"]

    res = ok("lab", "compare", bench, tmp_path / "bm25" / "c2p-mini.trec", tmp_path / "full" / "c2p-mini.trec",
             "--resamples", 500)
    rows = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(rows) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
    ndcg = rows["ndcg@10"]
    assert ndcg["base"] == printed["bm25"]["ndcg@10"] and ndcg["new"] == printed["full"]["ndcg@10"]
    assert ndcg["delta"] == pytest.approx(ndcg["new"] - ndcg["base"], abs=1e-4)
    assert ndcg["low"] <= ndcg["delta"] <= ndcg["high"] and 0 <= ndcg["p_value"] <= 1
    assert ndcg["wins"] + ndcg["ties"] + ndcg["losses"] == ndcg["queries"] == len(INTENDED)
    assert "95 % CI" in res.stdout and "wins / ties / losses" in res.stdout

    # the same comparison within the groups of queries by how many patents they judge relevant
    res = ok("lab", "compare", bench, tmp_path / "bm25" / "c2p-mini.trec", tmp_path / "full" / "c2p-mini.trec",
             "--resamples", 500, "--by-judged")
    groups = json.loads(res.stdout.strip().splitlines()[-1])
    sizes = {len(ps) for ps in INTENDED.values()}
    assert list(groups) == ["all", "1", "2-3"] and sizes == {1, 2}
    assert groups["all"] == rows
    assert groups["1"]["ndcg@10"]["queries"] + groups["2-3"]["ndcg@10"]["queries"] == len(INTENDED)
    assert "queries with 2-3 judged relevant" in " ".join(res.stdout.split())

    # two query sets (here: a benchmark and its copy without the two-patent queries), each with its own ranking
    singles = tmp_path / "c2p-singles"
    shutil.copytree(bench, singles)
    qrels_lines = (bench / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    keep = [qrels_lines[0]] + [ln for ln in qrels_lines[1:] if len(INTENDED[ln.split("\t")[0]]) == 1]
    (singles / "qrels" / "test.tsv").write_text("\n".join(keep) + "\n", encoding="utf-8")
    res = ok("lab", "compare-sets", bench, tmp_path / "full" / "c2p-mini.trec", singles, tmp_path / "full" / "c2p-mini.trec",
             "--resamples", 500, "--by-judged")
    sets = json.loads(res.stdout.strip().splitlines()[-1])
    assert list(sets) == ["all", "1"]  # the singles have no 2-3 group to compare
    assert sets["1"]["ndcg@10"]["delta"] == 0 and sets["1"]["ndcg@10"]["p_value"] == 1.0  # the same queries, ranked alike
    whole = sets["all"]["ndcg@10"]
    assert (whole["base_queries"], whole["new_queries"]) == (len(INTENDED), len(INTENDED) - 1)
    assert whole["base"] == printed["full"]["ndcg@10"] and whole["low"] <= whole["delta"] <= whole["high"]
    assert "c2p-singles" in res.stdout

    # a paired test pooled over two benchmarks' queries: both sets' queries count, each ranked by its own runs
    full, bm25 = tmp_path / "full" / "c2p-mini.trec", tmp_path / "bm25" / "c2p-mini.trec"
    res = ok("lab", "compare", bench, bm25, full, singles, bm25, full, "--resamples", 500)
    pooled = json.loads(res.stdout.strip().splitlines()[-1])["ndcg@10"]
    singles_only = json.loads(ok("lab", "compare", singles, bm25, full, "--resamples", 500).stdout.strip().splitlines()[-1])["ndcg@10"]
    assert pooled["queries"] == len(INTENDED) + singles_only["queries"] == 2 * len(INTENDED) - 1
    assert pooled["wins"] == ndcg["wins"] + singles_only["wins"] and pooled["losses"] == ndcg["losses"] + singles_only["losses"]
    assert pooled["delta"] == pytest.approx((ndcg["delta"] * len(INTENDED) + singles_only["delta"] * singles_only["queries"])
                                            / pooled["queries"], abs=2e-4)
    assert "c2p-mini + c2p-singles" in " ".join(res.stdout.split())
    assert_one_line_error(run("lab", "compare", bench, bm25, columns=80), "2 paths given", "BENCH BASE NEW")

    broken = tmp_path / "broken.trec"
    broken.write_text("D001 Q0 P001 1 0.5\n", encoding="utf-8")
    assert_one_line_error(run("lab", "compare", bench, broken, tmp_path / "full" / "c2p-mini.trec", columns=80),
                          "broken.trec", "line 1 has 5 fields")
    assert_one_line_error(run("lab", "compare-sets", bench, broken, singles, tmp_path / "full" / "c2p-mini.trec", columns=80),
                          "broken.trec", "line 1 has 5 fields")


def test_evaluate_refuses_a_folder_whose_name_has_no_direction(tmp_path):
    bench = _write_beir(tmp_path / "weird")
    assert_one_line_error(run("lab", "evaluate", bench, columns=80), "'weird'", "<query>2<corpus>", "--query-side")


def test_the_product_commands_and_the_lab_group_are_apart():
    """`matcher` lists the product's commands and the `lab` group; the research commands live only under `matcher lab`,
    and `matcher train` / `train-activity` train on a built index only."""
    top = ok("--help").stdout
    for command in ("build", "upsert", "delete", "search", "match", "train", "train-activity", "lab"):
        assert command in top
    lab = ok("lab", "--help").stdout
    for command in ("evaluate", "compare", "compare-sets", "held-out", "train", "train-activity", "tune-fusion",
                    "bench-portfolio", "bench-exposure"):
        assert command in lab
    for command in ("evaluate", "compare", "compare-sets", "held-out", "tune-fusion"):
        assert run(command, "--help").exit_code != 0, command
    assert "--from-index" in ok("train", "--help").stdout and "--cross-validate" not in ok("train", "--help").stdout
    assert "--cross-validate" in ok("lab", "train", "--help").stdout
    assert "--no-capital" not in ok("lab", "train-activity", "--help").stdout
