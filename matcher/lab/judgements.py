"""Judgements of a judged pool: read and check them, Cohen's kappa, graded qrels, the dev / test split, judged@10."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matcher.errors import InputError

GRADES = (0, 1, 2)
"""0 = unrelated, 1 = related, 2 = addresses the demand's technical problem (docs/judging.md)."""

DOUBLE_STEM = "double"
"""Judgement files whose name starts with this hold the second judgements of packets/double.jsonl."""


@dataclass(frozen=True)
class Judgement:
    """One judged pair.

    Attributes:
        pair_id: the pair's id (query_id~doc_id).
        grade: 0, 1 or 2.
        judge: who judged it.
        note: the judge's note (may be empty).
        source: "file:line" it was read from.
    """

    pair_id: str
    grade: int
    judge: str
    note: str
    source: str


def read_packet(path: str | Path) -> list[dict]:
    """The pairs of one packet file (JSON Lines).

    Raises:
        InputError: a line is not a JSON object with pair_id, query_id and doc_id (naming file and line).
    """
    path = Path(path)
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {lineno} is not valid JSON ({exc.msg})", file=str(path)) from None
        if not isinstance(row, dict) or not all(k in row for k in ("pair_id", "query_id", "doc_id")):
            raise InputError(f"line {lineno} needs pair_id, query_id and doc_id", file=str(path))
        rows.append(row)
    return rows


def read_judgements(path: str | Path) -> list[Judgement]:
    """One judgement file: tab-separated pair_id, grade, judge, note (a header line starting with pair_id is skipped).

    Raises:
        InputError: a line has fewer than 3 fields, a grade not in 0/1/2 or no judge (naming file, line and column).
    """
    path = Path(path)
    out = []
    with path.open(encoding="utf-8", newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if not row or not "".join(row).strip() or (lineno == 1 and row[0].strip() == "pair_id"):
                continue
            if len(row) < 3:
                raise InputError(f"line {lineno} has {len(row)} fields; a judgement is pair_id, grade, judge[, note] "
                                 "separated by tabs", file=str(path))
            grade = row[1].strip()
            if grade not in {str(g) for g in GRADES}:
                raise InputError(f"line {lineno}: grade {grade!r} is not 0, 1 or 2", file=str(path), column="grade")
            if not row[2].strip():
                raise InputError(f"line {lineno}: no judge named", file=str(path), column="judge")
            out.append(Judgement(row[0].strip(), int(grade), row[2].strip(), "\t".join(row[3:]).strip(),
                                 f"{path.name}:{lineno}"))
    return out


def _listed(ids: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" ... ({len(ids) - limit} more)" if len(ids) > limit else "")


def check_judgements(pairs: Sequence[str], main: Sequence[Judgement], double_pairs: Sequence[str],
                     second: Sequence[Judgement]) -> None:
    """Every pooled pair judged exactly once in the main files; second judgements only of the double packet's pairs.

    Args:
        pairs: the pooled pair ids (the main packets).
        main: the judgements of the main files.
        double_pairs: the pair ids of packets/double.jsonl.
        second: the judgements of the double files.

    Raises:
        InputError: pairs missing, judged twice or unknown (listing their ids).
    """
    known, twice_known = set(pairs), set(double_pairs)
    unknown = [j.source + " " + j.pair_id for j in main if j.pair_id not in known]
    unknown += [j.source + " " + j.pair_id for j in second if j.pair_id not in twice_known]
    if unknown:
        raise InputError(f"{len(unknown)} judgements name pairs not in their packets: {_listed(unknown)}",
                         hint="judge the pair ids of packets/*.jsonl")
    counts = Counter(j.pair_id for j in main)
    repeated = sorted(p for p, n in counts.items() if n > 1)
    if repeated:
        raise InputError(f"{len(repeated)} pairs are judged more than once in the main judgement files: {_listed(repeated)}",
                         hint="keep one judgement per pair (second judgements go in judgements/double*.tsv)")
    missing = [p for p in pairs if p not in counts]
    if missing:
        raise InputError(f"{len(missing)} of {len(pairs)} pooled pairs are not judged: {_listed(missing)}",
                         hint="judge them in judgements/*.tsv")


def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float:
    """Cohen's unweighted kappa of two judges' labels of the same items (1.0 when both agree on one label only).

    Args:
        a: the first judge's labels.
        b: the second judge's labels, item for item.

    Returns:
        (observed agreement - chance agreement) / (1 - chance agreement); NaN without items.
    """
    if len(a) != len(b):
        raise ValueError("both judges must label the same items")
    if not a:
        return float("nan")
    labels = sorted(set(a) | set(b))
    x, y = np.asarray(a), np.asarray(b)
    observed = float(np.mean(x == y))
    chance = float(sum(np.mean(x == v) * np.mean(y == v) for v in labels))
    return 1.0 if chance == 1.0 else (observed - chance) / (1.0 - chance)


def split_queries(query_ids: Sequence[str], seed: int, dev_share: float = 0.5) -> tuple[list[str], list[str]]:
    """A seeded random dev / test split of the queries.

    Args:
        query_ids: the judged queries.
        seed: the random seed.
        dev_share: the share of queries in dev.

    Returns:
        (dev ids, test ids), each sorted.
    """
    ids = sorted(set(query_ids))
    order = np.random.default_rng(seed).permutation(len(ids))
    n_dev = int(round(len(ids) * dev_share))
    dev = sorted(ids[i] for i in order[:n_dev])
    return dev, sorted(set(ids) - set(dev))


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """Graded qrels (query-id, corpus-id, score; header optional), grade 0 included (the judged-unrelated pairs).

    Raises:
        InputError: a line has fewer than 3 fields or a score that is no integer (naming file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, row in enumerate(csv.reader(fh, delimiter="\t"), 1):
            if not row or (lineno == 1 and row[0] == "query-id"):
                continue
            if len(row) < 3:
                raise InputError(f"line {lineno} needs 3 tab-separated fields", file=str(path))
            try:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
            except ValueError:
                raise InputError(f"line {lineno}: score {row[2]!r} is not an integer", file=str(path), column="score") from None
    return qrels


def judged_at(run: Mapping[str, Sequence[str]], judged: Mapping[str, Mapping[str, int]], k: int = 10) -> float:
    """judged@k: the share of a run's top k that is judged (any grade), averaged over the judged queries.

    Report it beside every score on the judged benchmark: below 1.0, unjudged documents count as unrelated and
    the score is a lower bound (re-pool and judge them).

    Args:
        run: query id -> document ids, best first.
        judged: query id -> {document id: grade}, every judged pair (grade 0 included).
        k: the depth.

    Returns:
        The mean share (a query the run leaves shorter than k counts its missing places as unjudged).
    """
    if not judged:
        return 0.0
    shares = [sum(1 for d in list(run.get(q, []))[:k] if d in docs) / k for q, docs in judged.items()]
    return float(np.mean(shares))


def write_qrels(path: Path, qrels: Mapping[str, Mapping[str, int]]) -> None:
    """Write BEIR qrels (header query-id, corpus-id, score), every grade."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["query-id\tcorpus-id\tscore\n"] + [f"{q}\t{d}\t{g}\n" for q in sorted(qrels) for d, g in sorted(qrels[q].items())]
    path.write_text("".join(lines), encoding="utf-8")


def build(folder: str | Path, *, judgements: str | Path | None = None, seed: int = 0, dev_share: float = 0.5) -> dict:
    """Turn a judged pool folder into qrels, the dev / test split and the agreement report.

    Reads packets/ and judgements/*.tsv of a folder written by `matcher.lab.judged.write_pool`; writes qrels/all.tsv,
    qrels/dev.tsv and qrels/test.tsv (graded, grade 0 kept), the BEIR folders d2p-dev/ and d2p-test/ (for `matcher lab
    evaluate`; the demands' records in demands.jsonl for --query-records), and report.json.

    Args:
        folder: the pool folder.
        judgements: the folder of the judges' *.tsv files (default: folder/judgements; the project's own judgements
            of the shipped pool are in data/judged/d2p/judgements).
        seed: the split's random seed.
        dev_share: the share of demands in dev.

    Returns:
        The report: grade counts, pool sizes per system, kappa (3 grades and related-or-better) on the double-judged
        pairs, judges, split sizes, answerable demands and judged@10 of every pooled run.

    Raises:
        InputError: judgements missing, repeated, unknown or malformed.
    """
    from matcher.lab.evaluate import read_run, write_beir

    folder = Path(folder)
    batches = sorted((folder / "packets").glob("batch-*.jsonl"))
    if not batches:
        raise InputError("no packets/batch-*.jsonl", file=str(folder), hint="write the pool with `matcher lab judged pool`")
    pairs = {row["pair_id"]: row for path in batches for row in read_packet(path)}
    double_path = folder / "packets" / "double.jsonl"
    double_pairs = [row["pair_id"] for row in read_packet(double_path)] if double_path.is_file() else []
    judged_dir = Path(judgements) if judgements is not None else folder / "judgements"
    files = sorted(judged_dir.glob("*.tsv"))
    if not files:
        raise InputError("no judgements (*.tsv)", file=str(judged_dir), hint="write each judge's grades as judgements/NAME.tsv")
    main = [j for f in files if not f.name.startswith(DOUBLE_STEM) for j in read_judgements(f)]
    second = [j for f in files if f.name.startswith(DOUBLE_STEM) for j in read_judgements(f)]
    check_judgements(list(pairs), main, double_pairs, second)

    first = {j.pair_id: j for j in main}
    qrels: dict[str, dict[str, int]] = {}
    for pid, j in first.items():
        qrels.setdefault(str(pairs[pid]["query_id"]), {})[str(pairs[pid]["doc_id"])] = j.grade
    write_qrels(folder / "qrels" / "all.tsv", qrels)
    dev, test = split_queries(list(qrels), seed, dev_share)
    lines = (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    queries = {str(q["_id"]): str(q["text"]) for q in (json.loads(line) for line in lines if line.strip())}
    for name, ids in (("dev", dev), ("test", test)):
        part = {q: qrels[q] for q in ids}
        write_qrels(folder / "qrels" / f"{name}.tsv", part)
        write_beir(folder / f"d2p-{name}", {q: queries[q] for q in ids if q in queries}, part, folder / "corpus.jsonl")

    paired = [(first[j.pair_id].grade, j.grade) for j in second if first[j.pair_id].judge != j.judge]
    same_judge = sum(1 for j in second if first[j.pair_id].judge == j.judge)
    best = {q: max(g.values()) for q, g in qrels.items()}
    runs = {p.stem: read_run(p) for p in sorted((folder / "runs").glob("*.trec"))}
    report = {
        "pairs": len(first), "demands": len(qrels),
        "grades": {str(g): sum(1 for j in first.values() if j.grade == g) for g in GRADES},
        "judges": dict(Counter(j.judge for j in main)),
        "answerable": {"addressed (a 2)": sum(1 for b in best.values() if b == 2),
                       "related or better (a 1 or 2)": sum(1 for b in best.values() if b >= 1),
                       "nothing related": sum(1 for b in best.values() if b == 0)},
        "pool_per_system": {name: sum(len(r) for r in run.values()) for name, run in runs.items()},
        "judged@10": {name: round(judged_at(run, qrels), 4) for name, run in runs.items()},
        "double": {"pairs": len(paired), "same_judge_skipped": same_judge,
                   "judges": dict(Counter(j.judge for j in second)),
                   "agreement": round(float(np.mean([a == b for a, b in paired])), 4) if paired else None,
                   "kappa_3_grades": _rounded(cohen_kappa([a for a, _ in paired], [b for _, b in paired])),
                   "kappa_related": _rounded(cohen_kappa([int(a >= 1) for a, _ in paired], [int(b >= 1) for _, b in paired]))},
        "split": {"seed": seed, "dev_demands": len(dev), "test_demands": len(test),
                  "dev_pairs": sum(len(qrels[q]) for q in dev), "test_pairs": sum(len(qrels[q]) for q in test)},
    }
    (folder / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return report


def _rounded(value: float) -> float | None:
    return None if value != value else round(value, 4)

