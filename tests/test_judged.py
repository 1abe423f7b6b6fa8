"""The judged demand -> patent benchmark (matcher.lab.judged, matcher.lab.judgements, `matcher lab judged ...`) on a
tiny synthetic shared folder with the fast test encoder: sampling, the four pooled systems, packets, double sample,
the judgement checks, qrels, the split, Cohen's kappa and judged@10."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.config import Direction, MatcherConfig
from matcher.errors import InputError
from matcher.lab.evaluate import load_beir, read_run
from matcher.lab.judged import SYSTEMS, sample_demands, split_batches, system_config
from matcher.lab.judgements import cohen_kappa, judged_at, read_qrels, split_queries
from pipelines.main import app

TOPICS = ["锂电池正极材料", "污水处理膜过滤", "无人机电机控制", "LED照明驱动电路", "针织面料防起球", "农业灌溉传感器"]


def _shared(root: Path) -> Path:
    """A shared/ folder in miniature: 12 patents on 6 topics, 9 demands (one too short to judge)."""
    (root / "data" / "bdci_patents").mkdir(parents=True)
    (root / "data" / "zhibei").mkdir(parents=True)
    pd.DataFrame({
        "id": [f"P{i:02d}" for i in range(12)],
        "title": [f"一种{TOPICS[i % 6]}装置{i}" for i in range(12)],
        "abstract": [f"本发明公开了一种{TOPICS[i % 6]}的方法与装置，解决了现有{TOPICS[i % 6]}效率低的问题。" for i in range(12)],
        "applicant": ["某大学"] * 12, "applicant_type": ["university"] * 12,
    }).to_csv(root / "data" / "bdci_patents" / "patents.csv", index=False)
    demands = [{"id": f"D{i:02d}", "name": f"{TOPICS[i % 6]}技术需求", "classification": "制造业",
                "cooperationMethod": "技术转让,技术许可",
                "context": f"我公司现有{TOPICS[i % 6]}产品存在寿命短、成本高的问题，需求一种{TOPICS[i % 6]}的改进技术。"}
               for i in range(8)]
    demands.append({"id": "D99", "name": "短需求", "context": "需要技术"})
    (root / "data" / "zhibei" / "demands.jsonl").write_text(
        "\n".join(json.dumps(d, ensure_ascii=False) for d in demands) + "\n", encoding="utf-8")
    return root


def run(*args):
    return CliRunner().invoke(app, ["lab", "judged", *[str(a) for a in args]])


@pytest.fixture(scope="module")
def pooled(tmp_path_factory, cache_dir):
    """One pool of 6 demands, top 3 per system, packets of about 10 pairs, 6 pairs to judge twice."""
    root = tmp_path_factory.mktemp("judged")
    shared = _shared(root / "shared")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MATCHER_CACHE_DIR", str(cache_dir))
        result = run("pool", "--out", root / "d2p", "--demands", 6, "--depth", 3, "--seed", 1, "--shared-dir", shared,
                     "--batch-pairs", 10, "--double", 6)
    assert result.exit_code == 0, result.output
    return root / "d2p", json.loads(result.stdout.strip().splitlines()[-1])


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _pool_rows(folder: Path) -> list[list[str]]:
    return [line.split("\t") for line in (folder / "pool.tsv").read_text(encoding="utf-8").splitlines()[1:]]


def test_sample_skips_short_demands_and_is_seeded():
    frame = pd.DataFrame({"id": [f"D{i}" for i in range(30)], "name": ["需求"] * 30,
                          "text": ["短"] * 10 + ["这是一段足够长的技术需求描述，超过二十个字符没有问题。"] * 20})
    a, b = sample_demands(frame, 5, seed=3), sample_demands(frame, 5, seed=3)
    assert a["id"].tolist() == b["id"].tolist() and len(a) == 5
    assert a["id"].tolist() != sample_demands(frame, 5, seed=4)["id"].tolist()
    assert set(sample_demands(frame, 100, seed=0)["id"]) == {f"D{i}" for i in range(10, 30)}
    with pytest.raises(InputError, match="20 characters"):
        sample_demands(frame.head(10), 5, seed=0)


def test_systems_override_only_their_directions_fusion():
    base = MatcherConfig()
    by_name = {s.name: s for s in SYSTEMS}
    bm25 = system_config(base, by_name["bm25"]).fusion_for(Direction.TEXT_TO_PATENT)
    assert bm25.weights == {"bm25": 1.0}
    assert bm25.query_segment_mode == base.fusion_for(Direction.TEXT_TO_PATENT).query_segment_mode
    assert system_config(base, by_name["dense"]).fusion_for(Direction.TEXT_TO_PATENT).weights == {"dense": 1.0}
    assert system_config(base, by_name["dense"]).fusion_for(Direction.ENTERPRISE_TO_PATENT) == base.fusion_for(Direction.ENTERPRISE_TO_PATENT)
    assert system_config(base, by_name["default-record"]) is base and by_name["default-record"].as_record


def test_batches_keep_each_query_whole():
    groups = [[{"q": q, "n": i} for i in range(size)] for q, size in enumerate([7, 3, 9, 2, 5, 6])]
    batches = split_batches(groups, size=10)
    assert len(batches) == 4 and sum(len(b) for b in batches) == 32
    for batch in batches:
        qs = [p["q"] for p in batch]
        assert all(qs.count(q) == len(groups[q]) for q in set(qs))


def test_pool_writes_runs_pool_and_packets(pooled):
    folder, summary = pooled
    queries = _jsonl(folder / "queries.jsonl")
    assert len(queries) == summary["demands"] == 6 and "D99" not in {q["_id"] for q in queries}
    assert all(q["classification"] == "制造业" and "技术转让" in q["cooperation"] for q in queries)
    assert len(_jsonl(folder / "corpus.jsonl")) == 12
    runs = {s.name: read_run(folder / "runs" / f"{s.name}.trec") for s in SYSTEMS}
    assert all(len(run) == 6 and all(len(docs) == 3 for docs in run.values()) for run in runs.values())
    assert summary["pairs_per_system"] == {s.name: 18 for s in SYSTEMS}
    union = {(q, d) for run in runs.values() for q, docs in run.items() for d in docs}
    rows = _pool_rows(folder)
    assert {(r[1], r[2]) for r in rows} == union and len(rows) == summary["pool_pairs"]
    for pid, q, d, systems, best in rows:
        ranks = dict(s.split(":") for s in systems.split(","))
        assert all(runs[s][q][int(r) - 1] == d for s, r in ranks.items()) and int(best) == min(map(int, ranks.values()))
    batches = sorted((folder / "packets").glob("batch-*.jsonl"))
    pairs = [p for b in batches for p in _jsonl(b)]
    assert sorted(p["pair_id"] for p in pairs) == sorted(r[0] for r in rows)
    assert len(batches) == len(summary["batches"]) >= 2
    for b in batches:
        order = [p["query_id"] for p in _jsonl(b)]
        assert order == sorted(order, key=order.index)  # one demand's candidates together
    first = pairs[0]
    assert first["demand"].startswith(next(q["text"] for q in queries if q["_id"] == first["query_id"]))
    assert first["patent_abstract"].startswith("本发明公开了") and first["patent_title"].startswith("一种")
    double = _jsonl(folder / "packets" / "double.jsonl")
    by_id = {p["pair_id"]: p for p in pairs}
    assert len(double) == 6 and len({p["pair_id"] for p in double}) == 6
    assert all(p["pair_id"] in by_id and f"batch-{p['batch']:02d}.jsonl" in {b.name for b in batches} for p in double)


def test_pool_refuses_to_overwrite(pooled, tmp_path):
    folder, _ = pooled
    result = run("pool", "--out", folder, "--demands", 2, "--shared-dir", tmp_path)
    assert result.exit_code == 2 and "the folder exists" in result.output and "--force" in result.output
    assert (folder / "pool.tsv").is_file()


def _judge(folder: Path, skip: int = 0, grade=lambda p: int(p["doc_id"][-1]) % 3) -> list[dict]:
    """judgements/a.tsv and b.tsv for every pooled pair but the last `skip`; judgements/double.tsv by judge c."""
    pairs = [p for b in sorted((folder / "packets").glob("batch-*.jsonl")) for p in _jsonl(b)]
    kept = pairs[: len(pairs) - skip]
    half = len(kept) // 2
    for name, part in (("a", kept[:half]), ("b", kept[half:])):
        (folder / "judgements" / f"{name}.tsv").write_text(
            "pair_id\tgrade\tjudge\tnote\n" + "".join(f"{p['pair_id']}\t{grade(p)}\t{name}\tok\n" for p in part), encoding="utf-8")
    double = _jsonl(folder / "packets" / "double.jsonl")
    (folder / "judgements" / "double.tsv").write_text(
        "".join(f"{p['pair_id']}\t{(grade(p) + (i == 0)) % 3}\tc\t\n" for i, p in enumerate(double)), encoding="utf-8")
    return pairs


@pytest.fixture
def copy(pooled, tmp_path):
    import shutil

    return Path(shutil.copytree(pooled[0], tmp_path / "d2p"))


def test_build_names_the_missing_pairs(copy):
    pairs = _judge(copy, skip=2)
    result = run("build", "--in", copy)
    assert result.exit_code == 2 and f"2 of {len(pairs)} pooled pairs are not judged" in result.output
    assert pairs[-1]["pair_id"] in result.output and pairs[-2]["pair_id"] in result.output
    assert not (copy / "qrels").exists()


def test_build_rejects_repeats_and_bad_grades(copy):
    pairs = _judge(copy)
    with (copy / "judgements" / "b.tsv").open("a", encoding="utf-8") as fh:
        fh.write(f"{pairs[0]['pair_id']}\t1\tb\trepeat\n")
    result = run("build", "--in", copy)
    assert result.exit_code == 2 and "judged more than once" in result.output and pairs[0]["pair_id"] in result.output
    (copy / "judgements" / "b.tsv").write_text(f"{pairs[-1]['pair_id']}\t3\tb\t\n", encoding="utf-8")
    result = run("build", "--in", copy)
    assert result.exit_code == 2 and "b.tsv" in result.output and "line 1" in result.output and "'3'" in result.output


def test_build_writes_qrels_split_and_kappa(copy):
    pairs = _judge(copy)
    result = run("build", "--in", copy, "--seed", 2)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    grades = {p["pair_id"]: int(p["doc_id"][-1]) % 3 for p in pairs}
    assert report["pairs"] == len(pairs) and report["grades"] == {str(g): list(grades.values()).count(g) for g in (0, 1, 2)}
    assert report["judges"] == {"a": len(pairs) // 2, "b": len(pairs) - len(pairs) // 2}
    qrels = read_qrels(copy / "qrels" / "all.tsv")
    assert sum(len(d) for d in qrels.values()) == len(pairs) and 0 in {g for d in qrels.values() for g in d.values()}
    dev, test = read_qrels(copy / "qrels" / "dev.tsv"), read_qrels(copy / "qrels" / "test.tsv")
    assert not set(dev) & set(test) and set(dev) | set(test) == set(qrels) and len(dev) == len(test) == 3
    assert load_beir(copy / "d2p-test").qrels == {q: {d: g for d, g in docs.items() if g} for q, docs in test.items()
                                                  if any(docs.values())}
    double = _jsonl(copy / "packets" / "double.jsonl")
    first = [grades[p["pair_id"]] for p in double]
    second = [(g + (i == 0)) % 3 for i, g in enumerate(first)]
    assert report["double"]["pairs"] == 6 and report["double"]["kappa_3_grades"] == round(cohen_kappa(first, second), 4)
    assert report["double"]["kappa_3_grades"] < 1.0
    assert report["judged@10"] == {s.name: 0.3 for s in SYSTEMS}  # 3 judged of 10 places: the runs are 3 deep
    assert report["pool_per_system"] == {s.name: 18 for s in SYSTEMS}
    cov = run("coverage", "--in", copy, copy / "runs" / "bm25.trec", "--split", "test")
    assert cov.exit_code == 0 and json.loads(cov.stdout.strip().splitlines()[-1]) == {str(copy / "runs" / "bm25.trec"): 0.3}
    # the judgements may live elsewhere (the project keeps its own in data/judged): the same report from there
    kept = copy.parent / "kept-judgements"
    (copy / "judgements").rename(kept)
    again = run("build", "--in", copy, "--seed", 2, "--judgements", kept)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout.strip().splitlines()[-1]) == report


def test_cohen_kappa_known_values():
    assert cohen_kappa([0, 1, 2, 2], [0, 1, 2, 2]) == 1.0
    assert cohen_kappa([0, 0, 1, 1], [0, 1, 0, 1]) == 0.0
    # 20 items: observed agreement 0.7, chance agreement 0.5 * 0.6 + 0.5 * 0.4 = 0.5 -> kappa 0.4
    a = [1] * 10 + [0] * 10
    b = [1] * 8 + [0] * 2 + [1] * 4 + [0] * 6
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_judged_at_and_split():
    judged = {"q1": {"a": 0, "b": 2}, "q2": {"c": 1}}
    run_ = {"q1": ["a", "x", "b"], "q2": ["y"]}
    assert judged_at(run_, judged, k=2) == pytest.approx((1 / 2 + 0 / 2) / 2)
    assert judged_at(run_, judged, k=3) == pytest.approx((2 / 3 + 0) / 2)
    dev, test = split_queries([f"q{i}" for i in range(10)], seed=5, dev_share=0.3)
    assert len(dev) == 3 and len(test) == 7 and split_queries([f"q{i}" for i in range(10)], seed=5, dev_share=0.3) == (dev, test)


def test_split_folders_evaluate_as_text_and_as_stored_records(copy, cache_dir, monkeypatch):
    monkeypatch.setenv("MATCHER_CACHE_DIR", str(cache_dir))
    _judge(copy, grade=lambda p: 2)
    assert run("build", "--in", copy).exit_code == 0
    runner = CliRunner()
    for extra in (["--query-side", "text"], ["--query-records", copy / "demands.jsonl"]):
        result = runner.invoke(app, ["lab", "evaluate", str(copy / "d2p-test"), *map(str, extra), "--runs", str(copy / "eval")])
        assert result.exit_code == 0, result.output
        scores = json.loads(result.stdout.strip().splitlines()[-1])["d2p-test"]
        assert 0.0 < scores["ndcg@10"] <= 1.0
    assert set(read_run(copy / "eval" / "d2p-test.trec")) == set(read_qrels(copy / "qrels" / "test.tsv"))
