"""A shared/ folder in miniature (benchmarks, registry, patents) for the tests of the pair builder,
the cross-validation and the held-out sets."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def write_bench(folder: Path, queries: list[dict], corpus: list[dict], qrels: list[tuple[str, str]]) -> Path:
    """A BEIR folder with these queries, corpus and (query, document) judgements."""
    (folder / "qrels").mkdir(parents=True)
    for name, rows in (("queries.jsonl", queries), ("corpus.jsonl", corpus)):
        (folder / name).write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t1" for q, d in qrels]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def mini_shared(root: Path) -> Path:
    """A shared/ folder in miniature: 3 dev companies, 1 labelled company outside dev, 1 unlabelled company."""
    data = root / "data"
    (data / "registry").mkdir(parents=True)
    (data / "bdci_patents").mkdir(parents=True)
    names = ["甲材料科技有限公司", "乙电池（深圳）有限公司", "丙机械有限公司", "丁测试科技有限公司", "戊贸易有限公司"]
    pd.DataFrame({"企业名称": names, "经营范围": [f"{n[:2]}相关技术开发、产品制造" for n in names]}).to_csv(
        data / "registry" / "companies_20k.csv", index=False)
    # the patents write half-width parentheses where the registry writes full-width ones
    applicants = ["甲材料科技有限公司", "乙电池(深圳)有限公司", "丙机械有限公司", "丁测试科技有限公司", "某大学"]
    patents = pd.DataFrame({
        "id": [f"P{i}" for i in range(5)], "title": [f"一种装置{i}" for i in range(5)],
        "applicant": applicants, "applicant_type": ["company"] * 4 + ["university"],
        "abstract": [f"本发明公开了一种装置{i}，包括壳体和传感器{i}。" for i in range(5)],
    })
    patents.to_csv(data / "bdci_patents" / "patents.csv", index=False)
    bench = root / "benchmarks"
    write_bench(bench / "c2p-dev", [{"_id": f"C{i}", "text": f"{names[i]}。经营范围：技术开发"} for i in range(3)],
                [{"_id": f"P{i}", "title": f"一种装置{i}", "text": "摘要"} for i in range(5)],
                [(f"C{i}", f"P{i}") for i in range(3)])
    write_bench(bench / "p2c-dev", [{"_id": f"P{i}", "text": f"一种装置{i}"} for i in range(3)],
                [{"_id": f"C{i}", "title": names[i], "text": "经营范围：技术开发"} for i in range(5)],
                [(f"P{i}", f"C{i}") for i in range(3)])
    return root

