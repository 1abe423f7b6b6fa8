"""Evaluation on BEIR-format benchmarks (corpus.jsonl, queries.jsonl, qrels/test.tsv) with the full matcher."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.errors import InputError
from matcher.index.atomic import atomic_write_text
from matcher.schema import Kind, schema_for

# letters of a benchmark name "<query>2<corpus>" -> record kind (None: free text)
_SIDE = {"c": Kind.ENTERPRISE, "d": Kind.ENTERPRISE, "e": Kind.ENTERPRISE, "p": Kind.PATENT, "kw": None, "t": None, "q": None}
_NAME = re.compile(r"^(?P<q>[a-z]+)2(?P<c>[a-z]+)(?:[-_].*)?$")


@dataclass
class Benchmark:
    """One BEIR folder.

    Attributes:
        name: the folder name.
        corpus: documents (dicts with _id, title, text).
        queries: query id -> text (only queries that have judgements).
        qrels: query id -> {document id: relevance}.
    """

    name: str
    corpus: list[dict]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise InputError("file not found", file=str(path), hint="a BEIR folder needs corpus.jsonl, queries.jsonl and qrels/test.tsv")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"line {lineno} is not valid JSON ({exc.msg})", file=str(path), hint="fix or remove that line") from None
            if "_id" not in row:
                raise InputError(f"line {lineno} has no '_id'", file=str(path), column="_id", hint="every BEIR record needs an _id")
            rows.append(row)
    return rows


def load_beir(folder: str | Path, split: str = "test") -> Benchmark:
    """Load a BEIR benchmark folder.

    Args:
        folder: the folder with corpus.jsonl, queries.jsonl and qrels/<split>.tsv.
        split: the qrels split.

    Returns:
        The benchmark, with queries restricted to those that have relevance judgements.

    Raises:
        InputError: a file is missing or malformed (naming the file and line).
    """
    folder = Path(folder)
    corpus = _read_jsonl(folder / "corpus.jsonl")
    all_queries = {str(q["_id"]): str(q.get("text", "")) for q in _read_jsonl(folder / "queries.jsonl")}
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise InputError("file not found", file=str(qrels_path), hint="a BEIR folder needs qrels/test.tsv")
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as fh:
        for lineno, row in enumerate(csv.reader(fh, delimiter="\t"), 1):
            if lineno == 1 and row and row[0] == "query-id":
                continue
            if len(row) < 3:
                raise InputError(f"line {lineno} needs 3 tab-separated fields", file=str(qrels_path))
            try:
                score = int(row[2])
            except ValueError:
                raise InputError(f"line {lineno}: score {row[2]!r} is not an integer", file=str(qrels_path), column="score") from None
            if score > 0:
                qrels.setdefault(row[0], {})[row[1]] = score
    queries = {q: all_queries[q] for q in qrels if q in all_queries}
    return Benchmark(folder.name, corpus, queries, {q: qrels[q] for q in queries})


def write_beir(target: str | Path, queries: Mapping[str, str], qrels: Mapping[str, Mapping[str, int]], corpus_file: str | Path) -> Path:
    """Write a BEIR folder: the given queries and judgements, and a copy of an existing corpus.jsonl.

    Args:
        target: the folder to write (created; its name tells `sides` the direction).
        queries: query id -> text (only queries with judgements are written).
        qrels: query id -> {corpus id: relevance}.
        corpus_file: the corpus.jsonl to copy.

    Returns:
        target.
    """
    target = Path(target)
    (target / "qrels").mkdir(parents=True, exist_ok=True)
    keep = [q for q in queries if qrels.get(q)]
    with (target / "queries.jsonl").open("w", encoding="utf-8") as out:
        for q in keep:
            out.write(json.dumps({"_id": q, "text": queries[q]}, ensure_ascii=False) + "\n")
    with (target / "qrels" / "test.tsv").open("w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        out.writelines(f"{q}\t{doc}\t{score}\n" for q in keep for doc, score in qrels[q].items())
    shutil.copyfile(corpus_file, target / "corpus.jsonl")
    return target


def write_subset(folder: str | Path, query_ids: set[str], out_dir: str | Path) -> Path:
    """Write a BEIR folder with only some of a benchmark's queries (same name, same corpus).

    Args:
        folder: the source BEIR folder.
        query_ids: the queries to keep (with their judgements).
        out_dir: the parent of the new folder (created).

    Returns:
        out_dir / folder.name.
    """
    folder = Path(folder)
    bench = load_beir(folder)
    keep = {q: bench.queries[q] for q in bench.queries if q in query_ids}
    return write_beir(Path(out_dir) / folder.name, keep, bench.qrels, folder / "corpus.jsonl")


def sides(name: str) -> tuple[Kind | None, Kind]:
    """The query side and corpus side encoded in a benchmark name such as c2p-dev, p2c-test or kw2p-dev.

    Returns:
        (query kind or None for free text, corpus kind).

    Raises:
        InputError: the name does not follow the "<query>2<corpus>" convention.
    """
    m = _NAME.match(name.lower())
    if not m or m["q"] not in _SIDE or _SIDE.get(m["c"]) is None:
        raise InputError(
            f"cannot tell the direction of benchmark '{name}'",
            hint="name it <query>2<corpus>[-split] (c2p, p2c, kw2p, ...) or pass --query-side and --corpus-side",
        )
    return _SIDE[m["q"]], _SIDE[m["c"]]


def mirror_records(folder: str | Path) -> Path | None:
    """The query side's records of an enterprise <-> patent benchmark: the corpus of its mirror beside it.

    c2p-dev's queries are companies, and p2c-dev's corpus holds the same companies' profiles (and the reverse),
    so `../p2c-dev/corpus.jsonl` lets `run_benchmark` ask each query as the stored record it is in the product.

    Args:
        folder: a BEIR folder named <query>2<corpus>[-split].

    Returns:
        The mirror's corpus.jsonl, or None when the name has no two record sides or the mirror is not there.
    """
    folder = Path(folder)
    m = _NAME.match(folder.name.lower())
    if not m or _SIDE.get(m["q"]) is None or _SIDE.get(m["c"]) is None or _SIDE[m["q"]] == _SIDE[m["c"]]:
        return None
    split = folder.name[len(m["q"]) + 1 + len(m["c"]):]
    corpus = folder.parent / f"{m['c']}2{m['q']}{split}" / "corpus.jsonl"
    return corpus if corpus.is_file() else None


def corpus_frame(bench: Benchmark, kind: Kind, enterprise_attributes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The benchmark corpus as canonical records of `kind` (title -> title/name, text -> abstract/text); enterprise
    records get the optional columns of `enterprise_attributes` (see `with_attributes`)."""
    schema = schema_for(kind)
    title_col, text_col = schema.text_fields
    frame = pd.DataFrame(
        {
            "id": [str(d["_id"]) for d in bench.corpus],
            title_col: [str(d.get("title") or "") for d in bench.corpus],
            text_col: [str(d.get("text") or "") for d in bench.corpus],
        }
    )
    frame = frame.reindex(columns=schema.columns, fill_value="")
    return with_attributes(frame, enterprise_attributes) if kind == Kind.ENTERPRISE else frame


def with_attributes(records: pd.DataFrame, attributes: pd.DataFrame | None) -> pd.DataFrame:
    """Enterprise records with their empty optional columns filled from another table of the same enterprises.

    A BEIR corpus carries a company's name and profile text only; the registry it was cut from also says where the
    company is and its registered capital, which the product's records carry and its signals use (the capital in
    the patent-activity prior). Rows are matched by company name (`company_key`); a value already present wins.

    Args:
        records: canonical enterprise records (name, text, optional columns).
        attributes: canonical enterprise records to read the values from (e.g. `load_records(registry, "enterprise")`);
            None: the records unchanged.

    Returns:
        A copy of `records` with the filled columns.
    """
    if attributes is None or len(records) == 0:
        return records
    from matcher.text.normalize import company_key

    by_name = attributes.assign(_key=attributes["name"].astype(str).map(company_key)).drop_duplicates("_key").set_index("_key")
    keys = records["name"].astype(str).map(company_key)
    out = records.copy()
    for column in schema_for(Kind.ENTERPRISE).optional:
        if column not in by_name or column not in out:
            continue
        found = keys.map(by_name[column]).fillna("").astype(str)
        out[column] = out[column].where(out[column].astype(str).str.strip() != "", found)
    return out


def registry_attributes(shared: str | Path) -> pd.DataFrame | None:
    """The registry records the shared benchmarks' company profiles come from (data/registry/companies_20k.csv under
    `shared`), as canonical enterprise records for `with_attributes`; None when the file is not there."""
    from matcher.ingest import SOURCES, load_source

    path = Path(shared) / SOURCES["registry_companies"].default_path
    return load_source("registry_companies", path).frame if path.is_file() else None


METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


def query_scores(ranked: Sequence[str], rels: Mapping[str, int]) -> dict[str, float]:
    """nDCG@10, Recall@10, Recall@100 and MRR@10 of one query's ranked list.

    Args:
        ranked: document ids, best first.
        rels: {document id: graded relevance} of the query.

    Returns:
        One value per name in METRICS (binary relevance for recall and MRR, graded gains for nDCG).
    """
    ranked = list(ranked)
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(rels.values(), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    relevant = {d for d, g in rels.items() if g > 0}
    n_rel = max(len(relevant), 1)
    return {
        "ndcg@10": dcg / idcg if idcg else 0.0,
        "recall@10": len(relevant.intersection(ranked[:10])) / n_rel,
        "recall@100": len(relevant.intersection(ranked[:100])) / n_rel,
        "mrr@10": next((1.0 / (i + 1) for i, d in enumerate(ranked[:10]) if d in relevant), 0.0),
    }


def metrics_by_query(run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]],
                     qids: Sequence[str] | None = None) -> np.ndarray:
    """The metrics of `query_scores` for each judged query.

    Args:
        run: query id -> ranked document ids (best first). Missing queries score 0.
        qrels: query id -> {document id: graded relevance}.
        qids: the queries (rows) in order; None: every judged query in qrels order.

    Returns:
        (len(qids), len(METRICS)) array, columns in METRICS order.
    """
    qids = list(qrels) if qids is None else qids
    rows = [query_scores(run.get(q, []), qrels[q]) for q in qids]
    return np.array([[r[m] for m in METRICS] for r in rows], dtype=np.float64).reshape(len(rows), len(METRICS))


def score_run(run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """The metrics of `query_scores` averaged over judged queries.

    Args:
        run: query id -> ranked document ids (best first). Missing queries score 0.
        qrels: query id -> {document id: graded relevance}.

    Returns:
        {"ndcg@10", "recall@10", "recall@100", "mrr@10"}.
    """
    if not qrels:
        return dict.fromkeys(METRICS, 0.0)
    return dict(zip(METRICS, metrics_by_query(run, qrels).mean(axis=0).tolist()))


def write_run(path: str | Path, run: Mapping[str, Sequence[tuple[str, float]]], tag: str = "matcher") -> Path:
    """Write a ranking as a TREC run file ("qid Q0 docid rank score tag" per line), atomically.

    The standard format of trec_eval, pytrec_eval and ranx, and the input of `matcher lab compare`.

    Args:
        path: the file to write.
        run: query id -> (document id, score) pairs, best first.
        tag: the run's name (one word).

    Returns:
        path.

    Raises:
        InputError: a query or document id contains whitespace (the format separates fields by it).
    """
    tag = re.sub(r"\s+", "_", tag) or "matcher"
    spaced = next((i for q, ranked in run.items() for i in (q, *(d for d, _ in ranked)) if not i or re.search(r"\s", i)), None)
    if spaced is not None:
        raise InputError(f"id {spaced!r} is empty or contains whitespace, which a TREC run file cannot hold", file=str(path),
                         hint="use ids without spaces in the benchmark")
    lines = [f"{q} Q0 {doc} {rank} {score:.6g} {tag}\n" for q, ranked in run.items()
             for rank, (doc, score) in enumerate(ranked, 1)]
    atomic_write_text(path, "".join(lines))
    return Path(path)


def read_run(path: str | Path) -> dict[str, list[str]]:
    """Read a TREC run file: query id -> document ids in rank order (ties kept in file order).

    Raises:
        InputError: the file is missing or a line is not "qid Q0 docid rank score tag" (naming file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=str(path), hint="write run files with `matcher lab evaluate --runs DIR`")
    ranked: dict[str, list[tuple[int, int, str]]] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 6:
                raise InputError(f"line {lineno} has {len(fields)} fields, a TREC run line has 6 (qid Q0 docid rank score tag)",
                                 file=str(path))
            try:
                rank = int(fields[3])
                float(fields[4])
            except ValueError:
                raise InputError(f"line {lineno}: rank {fields[3]!r} or score {fields[4]!r} is not a number", file=str(path)) from None
            ranked.setdefault(fields[0], []).append((rank, lineno, fields[2]))
    return {q: [doc for _, _, doc in sorted(rows)] for q, rows in ranked.items()}


def weighs_grades(config) -> bool:
    """Whether a configuration (MatcherConfig) ranks patents with the "grade" prior in some direction."""
    from matcher.schema import Direction

    return any(config.fusion_for(d).weights.get("grade") for d in Direction if d.target == Kind.PATENT)


def grade_indexed(matcher, models=None) -> pd.DataFrame:
    """Grade the patents a matcher holds, as `matcher grade --index` grades an index's stock (its enterprises
    count the demand per sector), and let the matcher's "grade" prior read them.

    A benchmark index lives in memory and has no grades file; this is what the product's index would hold after
    `matcher grade --index`.

    Args:
        matcher: a `matcher.engine.Matcher` holding patents.
        models: the grading models (None: `GradingModels.load()`, the trained ones in models/grading when there,
            else the shipped ones).

    Returns:
        The grades table (matcher.grading.GRADE_COLUMNS).
    """
    from matcher.grading import GradingModels, grade_patents

    enterprises = matcher.get(Kind.ENTERPRISE)
    grades = grade_patents(matcher.collection(Kind.PATENT).records.reset_index(drop=True),
                           models if models is not None else GradingModels.load(),
                           demands=enterprises.records.reset_index(drop=True) if enterprises is not None else None)
    matcher.signals.use_grades(grades)
    return grades


def run_benchmark(
    folder: str | Path,
    matcher,
    *,
    query_side: Kind | None | str = "auto",
    corpus_side: Kind | str | None = None,
    k: int = 100,
    query_records: str | Path | None = None,
    show_progress: bool = False,
    run_file: str | Path | None = None,
    enterprise_attributes: pd.DataFrame | None = None,
) -> dict[str, float]:
    """Index a benchmark's corpus with a fresh matcher and score its ranking of the queries.

    Args:
        folder: the BEIR folder.
        matcher: an empty `matcher.engine.Matcher` (its configuration and encoder are what is measured).
        query_side: kind of the queries ("enterprise", "patent", None for free text); "auto" reads it
            from the folder name.
        corpus_side: kind of the corpus records; None reads it from the folder name.
        k: ranking depth (100 covers Recall@100).
        query_records: a BEIR corpus.jsonl of query-side records (e.g. p2c-dev's company profiles for c2p-dev),
            indexed beside the corpus; a query whose id is among them is asked as that stored record, so the
            signals that need both sides (the "reciprocal" ranks) take part as they do in the product.
        show_progress: show progress bars.
        run_file: also write the ranking there as a TREC run file (`write_run`), for `matcher lab compare`.
        enterprise_attributes: enterprise records whose optional columns (registered capital, region, ...) fill
            those of the benchmark's enterprise records, matched by name (`with_attributes`).

    When the configuration weights the patents' grades ("grade"), the indexed patents are graded first
    (`grade_indexed`).

    Returns:
        The metrics of `score_run`.
    """
    from matcher.engine import Query  # the evaluation harness sits above the engine

    bench = load_beir(folder)
    if query_side == "auto" or corpus_side is None:
        q_auto, c_auto = sides(bench.name)
        query_side = q_auto if query_side == "auto" else query_side
        corpus_side = corpus_side or c_auto
    q_kind = Kind(query_side) if query_side else None
    c_kind = Kind(corpus_side)
    if query_records is not None and (q_kind is None or q_kind == c_kind):
        raise InputError("query records need a benchmark whose queries come from the other side (c2p, p2c)")
    matcher.index(c_kind, corpus_frame(bench, c_kind, enterprise_attributes), show_progress=show_progress)
    stored: set[str] = set()
    if query_records is not None:
        side = Benchmark(name=bench.name, queries={}, qrels={}, corpus=_read_jsonl(Path(query_records)))
        matcher.index(q_kind, corpus_frame(side, q_kind, enterprise_attributes), show_progress=show_progress)
        stored = {str(d["_id"]) for d in side.corpus}
    if weighs_grades(matcher.config):
        grade_indexed(matcher)
    qids = list(bench.queries)
    results = matcher.search(
        [Query(bench.queries[q], kind=q_kind, id=q if q in stored else None) for q in qids], c_kind, k=k, explain=False,
        show_progress=show_progress,
    )
    ranked = {qid: [(m.target_id, m.score) for m in res.matches] for qid, res in zip(qids, results)}
    if run_file is not None:
        write_run(run_file, ranked, tag=bench.name)
    return score_run({qid: [doc for doc, _ in pairs] for qid, pairs in ranked.items()}, bench.qrels)
