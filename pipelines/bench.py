"""`matcher bench`: times the main job (build, nightly match, queries) and, optionally, a synthetic large vector index."""

from __future__ import annotations

import gc
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from matcher.build import BuildReport, build_index
from matcher.config import PROJECT_ROOT, MatcherConfig, load_config
from matcher.encode import CachedEncoder, Encoder, EnsembleEncoder, load_encoder
from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.ingest import LoadResult, load_records, load_source
from matcher.memory import mapped_resident_kib
from matcher.office.pair_columns import office_columns
from matcher.schema import Kind
from matcher.text.segment import Segmenter
from matcher.threads import one_thread_per_query

DEMO_DIR = PROJECT_ROOT / "data" / "demo"
K = 10

out = Console()
err = Console(stderr=True)


class TimedEncoder:
    """An Encoder that counts the texts it encodes and the seconds it spends (wrapped inside the cache, so it only
    sees the texts the cache misses).

    Args:
        inner: the encoder measured.
    """

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.texts = 0
        self.seconds = 0.0

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        t = time.perf_counter()
        vectors = self.inner.encode(texts, batch_size=batch_size, show_progress=show_progress)
        self.seconds += time.perf_counter() - t
        self.texts += len(texts)
        return vectors


class TimedSegmenter(Segmenter):
    """A Segmenter that counts the texts it segments and the (wall-clock) seconds it spends, worker processes
    included."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.texts = 0
        self.seconds = 0.0
        self._inside = False

    def tokens(self, text: str, mode: str | None = None) -> list[str]:
        if self._inside:
            return super().tokens(text, mode)
        t = time.perf_counter()
        found = super().tokens(text, mode)
        self.seconds += time.perf_counter() - t
        self.texts += 1
        return found

    def tokens_many(self, texts: Sequence[str], mode: str | None = None, **kwargs) -> list[list[str]]:
        t = time.perf_counter()
        self._inside = True
        try:
            found = super().tokens_many(texts, mode, **kwargs)
        finally:
            self._inside = False
        self.seconds += time.perf_counter() - t
        self.texts += len(found)
        return found


def timed_parts(encoder: Encoder) -> tuple[Encoder, list[TimedEncoder]]:
    """The encoder with every part (of an ensemble, else itself) wrapped in a TimedEncoder, and those wrappers."""
    if isinstance(encoder, EnsembleEncoder):
        timers: list[TimedEncoder] = []
        wrapped = encoder.map_parts(lambda part: timers.append(TimedEncoder(part)) or timers[-1])
        return wrapped, timers
    timer = TimedEncoder(encoder)
    return timer, [timer]


def cache_parts(encoder: Encoder) -> list[CachedEncoder]:
    """The disk caches of an encoder (one per part of an ensemble)."""
    parts = [p for p, _ in encoder.parts] if isinstance(encoder, EnsembleEncoder) else [encoder]
    return [p for p in parts if isinstance(p, CachedEncoder)]


def peak_rss_mb() -> float:
    """Peak resident memory of this process since it started or since `reset_peak_rss` (Linux: VmHWM)."""
    return memory_status()["peak_rss_mb"]


def reset_peak_rss() -> None:
    """Start measuring this process's peak resident memory afresh (Linux >= 4.0: "5" to /proc/self/clear_refs;
    where that is refused the peak keeps counting from the start, an overestimate)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def children_peak_rss_mb() -> float:
    """Peak resident memory of the largest finished child process (the build's segmentation workers: forked, so
    most of it is pages shared with this process, not memory of their own)."""
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def memory_status() -> dict[str, float]:
    """This process's memory now (Linux /proc/self, MB): peak resident (VmHWM) and private resident (RssAnon)."""
    fields = {"VmHWM": "peak_rss_mb", "RssAnon": "rss_private_mb"}
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in fields:
            found[fields[name]] = round(int(value.split()[0]) / 1024, 1)
    return found


def serve_probe(index_dir: str, queries: int, seed: int) -> None:
    """Run in a fresh process by `serving_memory`: load the index as the workbench does, answer stored-record and
    pasted-text queries both ways, print the memory figures as JSON."""
    t0 = time.perf_counter()
    matcher = Matcher.load(index_dir)
    load_s = time.perf_counter() - t0
    query_latency(matcher, queries, random.Random(seed))
    mapped = round(mapped_resident_kib(matcher.mapped_files()) / 1024, 1)  # shared with every process mapping them
    print(json.dumps({"load_s": round(load_s, 2), **memory_status(), "rss_index_files_mb": mapped}))


def serving_memory(index_dir: Path, config: MatcherConfig, queries: int, seed: int) -> dict:
    """Memory of a fresh process serving the saved index (what a workbench process holds), from `serve_probe`."""
    env = {**os.environ, "MATCHER_CACHE_DIR": str(config.cache_dir)}
    code = f"from pipelines.bench import serve_probe; serve_probe({str(index_dir)!r}, {queries}, {seed})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT)
    if done.returncode != 0:
        raise MatcherError(f"the serving probe failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
    return {f"serve_{k}": v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def load_inputs(enterprises: int | None, demo: bool) -> list[LoadResult]:
    """The records benchmarked: the demo set, or the shared patents and demands plus the first `enterprises`
    registrations of tech_companies_200k.parquet (all 200,000 when None).

    Raises:
        InputError: the shared data is missing.
    """
    if demo:
        return [load_records(DEMO_DIR / "patents.csv", Kind.PATENT), load_records(DEMO_DIR / "enterprises.csv", Kind.ENTERPRISE)]
    registry = load_source("registry_companies_200k")
    if enterprises is not None:
        registry.frame = registry.frame.head(enterprises).reset_index(drop=True)
    return [load_source("bdci_patents"), load_source("zhibei_demands"), registry]


def percentiles(seconds: Sequence[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    ms = np.asarray(seconds) * 1000
    return round(float(np.percentile(ms, 50)), 1), round(float(np.percentile(ms, 95)), 1)


def pasted_texts(matcher: Matcher, kind: Kind, n: int, rng: random.Random) -> list[str]:
    """Texts a user might paste: the first two thirds of stored records' texts (new strings, so embedded afresh
    unless an earlier benchmark embedded them)."""
    coll = matcher.collection(kind)
    ids = rng.sample(coll.ids, min(n, len(coll)))
    texts = [matcher.query_for(kind, i).text for i in ids]
    return [t[: max(8, 2 * len(t) // 3)] for t in texts]


def query_latency(matcher: Matcher, queries: int, rng: random.Random) -> dict:
    """Single-query latency (hybrid, the configuration's signals, explanations attached as the workbench shows them,
    one thread per numeric library as the workbench answers them): pasted text -> top-10 patents and -> top-10
    enterprises, and stored record -> top-10 of the other side."""
    with one_thread_per_query():
        found: dict[str, list[float]] = {}
        for source, target in ((Kind.ENTERPRISE, Kind.PATENT), (Kind.PATENT, Kind.ENTERPRISE)):
            texts = pasted_texts(matcher, source, queries, rng)
            matcher.search(texts[0] + " 预热", target, k=K)  # loads the model; not timed
            for text in texts:
                t = time.perf_counter()
                matcher.search(text, target, k=K)
                found.setdefault(f"pasted->{target.value}", []).append(time.perf_counter() - t)
            ids = rng.sample(matcher.collection(source).ids, min(queries, matcher.count(source)))
            for i in ids:
                t = time.perf_counter()
                matcher.search(matcher.query_for(source, i), target, k=K)
                found.setdefault(f"{source.value}->{target.value}", []).append(time.perf_counter() - t)
        pasted = [s for name, v in found.items() if name.startswith("pasted") for s in v]
        stored = [s for name, v in found.items() if not name.startswith("pasted") for s in v]
        result = dict(zip(("query_p50_ms", "query_p95_ms"), percentiles(pasted)))
        result.update(zip(("stored_p50_ms", "stored_p95_ms"), percentiles(stored)))
        result["queries"] = {name: dict(zip(("p50_ms", "p95_ms"), percentiles(v)), n=len(v)) for name, v in found.items()}
        return result


def run_main(config: MatcherConfig, inputs: list[LoadResult], work: Path, queries: int, seed: int) -> tuple[dict, Matcher]:
    """Build, save, run the nightly job both ways and time queries; returns the figures and the loaded engine."""
    from matcher.export import NightlyJob

    encoder, timers = timed_parts(load_encoder(config.encoder))
    segmenter = TimedSegmenter(config.segment_mode)
    t0 = time.perf_counter()
    matcher = Matcher(config, encoder=encoder, segmenter=segmenter)
    cold = all(c.cached_count() == 0 for c in cache_parts(matcher.encoder))
    # as `matcher build` builds: the saved index of an earlier run in `work` is updated when its settings are the same
    report = build_index(matcher, inputs, work / "index", show_progress=True)  # saving ranks the reciprocal lists
    build_s = time.perf_counter() - t0
    matcher = report.matcher
    hits = sum(c.stats.hits for c in cache_parts(matcher.encoder))
    encoded = {t.model_id: (t.texts, t.seconds) for t in timers}
    build_mode = _build_mode(report)
    rss_build, rss_workers = peak_rss_mb(), children_peak_rss_mb()
    seg_texts, seg_s = segmenter.texts, segmenter.seconds
    encoder, counts = matcher.encoder, {kind: matcher.count(kind) for kind in (Kind.ENTERPRISE, Kind.PATENT)}
    del matcher, report  # the nightly job runs in a process that loads the saved index, as `matcher match` does
    gc.collect()

    reset_peak_rss()
    t0 = time.perf_counter()
    loaded = Matcher.load(work / "index", encoder=encoder)
    NightlyJob(loaded, annotate=partial(office_columns, loaded)).run(work / "exports", show_progress=True)  # as `matcher match`
    match_s = time.perf_counter() - t0
    rss_match = peak_rss_mb()
    del loaded
    gc.collect()

    t0 = time.perf_counter()
    served = Matcher.load(work / "index", encoder=encoder)
    load_s = time.perf_counter() - t0
    figures = {
        "enterprises": counts[Kind.ENTERPRISE],
        "patents": counts[Kind.PATENT],
        "encoder": encoder.model_id,
        "segment_texts_per_s": round(seg_texts / seg_s, 1) if seg_s else None,
        "encode_texts_per_s": {m: round(n / s, 1) if s else None for m, (n, s) in encoded.items()},
        "encoded_texts": {m: n for m, (n, _) in encoded.items()},
        "cache_hits": hits,
        "build_s": round(build_s, 1),
        "build_mode": build_mode,
        "match_s": round(match_s, 1),
        "load_s": round(load_s, 2),
        "peak_rss_build_mb": rss_build,
        "peak_rss_match_mb": rss_match,
        "peak_rss_mb": max(rss_build, rss_match),
        "peak_rss_segment_workers_mb": rss_workers,
    }
    figures.update(query_latency(served, queries, random.Random(seed)))
    figures.update(serving_memory(work / "index", config, queries, seed))
    figures["vector_storage"] = config.vector_storage
    figures["stored_as"] = stored_as(served)
    figures["index_mb"] = round(sum(f.stat().st_size for f in (work / "index").rglob("*") if f.is_file()) / 2**20, 1)
    figures["cold"] = cold
    return figures, served


def stored_as(matcher: Matcher) -> dict[str, str]:
    """How each side's vectors (and the scope items') are kept: "float32" or "float16" ("auto" decides by size)."""
    return {name: dense.params.storage for name, dense in matcher.dense_indexes().items()}


def _build_mode(report: BuildReport) -> str:
    """How the build went: "full", or "incremental" with what changed."""
    if not report.incremental:
        return "full"
    changed = sum(len(c.upserts) + len(c.deletions) for c in report.changes.values())
    return f"incremental: {changed:,} records added, changed or deleted" if changed else "incremental: nothing changed"


def synthetic_vectors(base: np.ndarray, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """`n` unit vectors: the rows of `base` repeated in turn, each with gaussian noise of norm about `noise`."""
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        rows = np.arange(start, min(start + step, n)) % len(base)
        part = base[rows] + rng.standard_normal((len(rows), base.shape[1]), dtype=np.float32) * (noise / np.sqrt(base.shape[1]))
        part /= np.linalg.norm(part, axis=1, keepdims=True)
        out[start : start + len(rows)] = part
    return out


def vector_backends(dim: int, n: int) -> dict[str, str]:
    """Name -> how it is built: the project's dense backends ("dense:<backend>") and compact faiss factories."""
    nlist = int(4 * np.sqrt(n))
    return {
        "flat (exact, float32)": "dense:flat",
        "ivf (float32 store, float16 lists)": "dense:ivf",
        "hnsw (float32)": "dense:hnsw",
        "ivf + SQ8": f"faiss:IVF{nlist},SQ8",
        "ivf + float16": f"faiss:IVF{nlist},SQfp16",
        f"ivf + PQ{dim // 8}": f"faiss:IVF{nlist},PQ{dim // 8}",
    }


def run_vectors(base: np.ndarray, n: int, queries: int, seed: int, only: Sequence[str] | None = None) -> dict:
    """Search latency, recall@10 against exact search and memory on `n` synthetic vectors, per backend."""
    import faiss

    from matcher.index.dense import DenseIndex

    rng = np.random.default_rng(seed)
    vectors = synthetic_vectors(base, n, 0.3, rng)
    picks = rng.choice(len(base), size=queries, replace=len(base) < queries)
    qs = synthetic_vectors(base[picks], queries, 0.3, rng)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(qs, K)
    del exact
    results: dict[str, dict] = {}
    for name, spec in vector_backends(vectors.shape[1], n).items():
        if only and not any(o in name for o in only):
            continue
        gc.collect()
        rss0 = memory_status()["rss_private_mb"]
        reset_peak_rss()
        t0 = time.perf_counter()
        kind, what = spec.split(":", 1)
        if kind == "dense":
            index = DenseIndex(vectors.shape[1], backend=what)
            index.add(np.arange(n, dtype=np.int64), vectors)
            search = index.search
            size = vectors.nbytes + len(faiss.serialize_index(index._ann.index))
        else:
            index = faiss.index_factory(vectors.shape[1], what, faiss.METRIC_INNER_PRODUCT)
            train = vectors[rng.choice(n, size=min(n, 100_000), replace=False)]
            index.train(train)
            index.add(vectors)
            faiss.extract_index_ivf(index).nprobe = 32
            search = index.search
            size = len(faiss.serialize_index(index))
        build_s = time.perf_counter() - t0
        lat, hits = [], 0
        for i in range(queries):
            t = time.perf_counter()
            _, ids = search(qs[i : i + 1], K)
            lat.append(time.perf_counter() - t)
            hits += len(set(ids[0].tolist()) & set(truth[i].tolist()))
        p50, p95 = percentiles(lat)
        results[name] = {"build_s": round(build_s, 1), "p50_ms": p50, "p95_ms": p95,
                         "recall_at_10": round(hits / (K * queries), 4), "index_mb": round(size / 2**20, 1),
                         "peak_rss_mb": peak_rss_mb(), "private_rss_before_mb": rss0}
        del index, search
    return {"n": n, "dim": int(vectors.shape[1]), "queries": queries, "backends": results}


def print_table(figures: dict) -> None:
    """The figures as rich tables."""
    table = Table(title=f"matcher bench: {figures['enterprises']:,} enterprise-side records x {figures['patents']:,} patents")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        if key not in ("queries", "vectors"):
            table.add_row(key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value))
    for name, q in figures.get("queries", {}).items():
        table.add_row(f"{name} p50 / p95 ms (n={q['n']})", f"{q['p50_ms']} / {q['p95_ms']}")
    out.print(table)
    if "vectors" in figures:
        v = figures["vectors"]
        vt = Table(title=f"{v['n']:,} synthetic vectors (dim {v['dim']}), {v['queries']} single queries, top-{K}")
        for col in ("backend", "build s", "p50 ms", "p95 ms", "recall@10", "index MB"):
            vt.add_column(col, justify="right" if col != "backend" else "left")
        for name, r in v["backends"].items():
            vt.add_row(name, str(r["build_s"]), str(r["p50_ms"]), str(r["p95_ms"]), str(r["recall_at_10"]), str(r["index_mb"]))
        out.print(vt)


def register(app: typer.Typer) -> None:
    """Add `matcher bench` to the CLI."""

    @app.command()
    def bench(
        enterprises: Annotated[Optional[int], typer.Option(
            "--enterprises", min=1, help="Registrations taken from tech_companies_200k.parquet (plus the shared demands, "
                                         "against the shared patents); default all 200,000.")] = None,
        demo: Annotated[bool, typer.Option("--demo", help="Benchmark the demo data (data/demo) instead.")] = False,
        config: Annotated[Optional[Path], typer.Option("--config", help="JSON file with engine settings.")] = None,
        encoder: Annotated[Optional[str], typer.Option("--encoder", help="Encoder spec (wins over --config).")] = None,
        cache_dir: Annotated[Optional[Path], typer.Option(
            "--cache-dir", help="Embedding cache (default: the configuration's); a fresh folder gives a cold run.")] = None,
        work_dir: Annotated[Optional[Path], typer.Option(
            "--work-dir", help="Where the index and exports are written (default: a temporary folder, removed).")] = None,
        queries: Annotated[int, typer.Option("--queries", min=2, help="Single queries timed per kind of query.")] = 50,
        vectors: Annotated[int, typer.Option("--vectors", min=0, help="Also time a synthetic index of this many vectors (0: no).")] = 0,
        vector_backends_: Annotated[Optional[list[str]], typer.Option(
            "--vector-backend", help="Only the synthetic backends whose name contains this (repeatable).")] = None,
        seed: Annotated[int, typer.Option("--seed")] = 0,
        as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object on the last line.")] = False,
    ) -> None:
        """Measure the main job: build (segment, embed, index, reciprocal lists), the nightly match both ways, query latency,
        peak memory; optionally a synthetic large vector index. Prints numbers (the machine's load changes them)."""
        try:
            cfg = load_config(config, encoder=encoder, cache_dir=cache_dir)
            inputs = load_inputs(enterprises, demo)
            with tempfile.TemporaryDirectory(prefix="matcher-bench-") as tmp:
                work = work_dir or Path(tmp)
                work.mkdir(parents=True, exist_ok=True)
                figures, served = run_main(cfg, inputs, work, queries, seed)
            if vectors:
                base = np.concatenate([served.get(k).dense.vectors(served.get(k).records.index.to_numpy(dtype=np.int64))
                                       for k in served.kinds]).astype(np.float32)
                del served
                figures["vectors"] = run_vectors(base, vectors, min(queries, 200), seed, vector_backends_)
        except MatcherError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        if as_json:
            print(json.dumps(figures, ensure_ascii=False))
        else:
            print_table(figures)
