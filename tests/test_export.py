"""The nightly batch export (matcher.export.NightlyJob and `matcher match`) on the demo index with the fast
test encoder: the files and their content, atomic swap and resumption after a real SIGKILL, the XLSX row
limit and filters."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import matcher.export as export
from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.export import NightlyJob
from matcher.memory import mapped_resident_kib
from matcher.office.pair_columns import office_columns
from matcher.schema import RECORD_DIRECTIONS, Direction, Kind
from pipelines.cli import app

STEMS = ("enterprise_to_patent", "patent_to_enterprise")
FORMATS = ("csv", "parquet", "xlsx")
SCORE_COLUMNS = ("score", "dense", "bm25")


@pytest.fixture(autouse=True)
def _shared_cache(monkeypatch, cache_dir):
    """CLI runs (in-process and subprocesses) use the session's embedding cache and the default encoder."""
    monkeypatch.setenv("MATCHER_CACHE_DIR", str(cache_dir))
    monkeypatch.delenv("MATCHER_ENCODER", raising=False)


@pytest.fixture(scope="module")
def default_run(loaded, tmp_path_factory):
    """One default batch run (k=10, all formats) on the demo index: (out dir, manifest)."""
    out = tmp_path_factory.mktemp("export")
    manifest = NightlyJob(loaded, k=10).run(out)
    return out, manifest


def _same_content(parquet: pd.DataFrame, other: pd.DataFrame, what: str) -> None:
    """`other` (read back from CSV or XLSX as strings) holds exactly the Parquet frame's rows."""
    assert list(other.columns) == list(parquet.columns), what
    assert len(other) == len(parquet), what
    for col in parquet.columns:
        if pd.api.types.is_numeric_dtype(parquet[col]):
            back = other[col].replace("", "nan").astype(float)  # a blank numeric cell is a missing value (NaN)
            np.testing.assert_allclose(back.to_numpy(), parquet[col].astype(float).to_numpy(),
                                       rtol=0, atol=1e-9, err_msg=f"{what}: column {col}")
        else:
            assert other[col].fillna("").astype(str).tolist() == parquet[col].fillna("").astype(str).tolist(), \
                f"{what}: column {col}"


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)


def _read_xlsx(path: Path) -> pd.DataFrame:
    return pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _frames(matches: Path) -> dict[str, pd.DataFrame]:
    return {stem: pd.read_parquet(matches / f"{stem}.parquet") for stem in STEMS}


# --------------------------------------------------------------------------- files and content
def test_batch_writes_every_format_and_a_manifest(default_run, loaded, demo_patents, demo_enterprises):
    out, manifest = default_run
    matches = out / "matches"
    expected = {f"{stem}.{fmt}" for stem in STEMS for fmt in FORMATS}
    assert {p.name for p in matches.iterdir()} == expected | {"run_manifest.json"}
    assert set(manifest.files) == expected

    stored = json.loads((matches / "run_manifest.json").read_text(encoding="utf-8"))
    assert stored["run_key"] == manifest.run_key and stored["k"] == 10
    assert stored["rows"] == {"enterprise->patent": 40 * 10, "patent->enterprise": 60 * 10}
    assert stored["index"]["patent"]["rows"] == 60 and stored["index"]["enterprise"]["rows"] == 40
    assert stored["index"]["patent"]["model_id"] == loaded.encoder.model_id
    assert stored["chunks_total"] == 2 and stored["chunks_resumed"] == 0
    assert stored["notes"] == [] and stored["finished_at"] >= stored["started_at"]

    # the work dir of this run is gone after success
    assert not (out / ".work" / manifest.run_key).exists()
    assert not list(out.glob(".work/*/*"))


@pytest.mark.parametrize(
    ("stem", "queries", "targets"),
    [("enterprise_to_patent", "enterprises", "patents"), ("patent_to_enterprise", "patents", "enterprises")],
)
def test_every_query_gets_k_ranked_existing_targets_with_evidence(default_run, demo_patents, demo_enterprises,
                                                                  stem, queries, targets):
    out, _ = default_run
    ids = {"patents": set(demo_patents["id"]), "enterprises": set(demo_enterprises["id"])}
    frame = pd.read_parquet(out / "matches" / f"{stem}.parquet")
    for col in ("direction", "query_id", "query_name", "rank", "target_id", "target_name", *SCORE_COLUMNS,
                "shared_terms", "closest_sentence", "sentence_similarity"):
        assert col in frame.columns, col
    assert set(frame["direction"]) == {stem.replace("_to_", "->")}
    assert set(frame["query_id"]) == ids[queries]
    for qid, group in frame.groupby("query_id"):
        assert group["rank"].tolist() == list(range(1, 11)), qid
        assert group["target_id"].is_unique, qid
        assert (group["score"].diff().dropna() <= 1e-9).all(), f"{qid}: scores are not best first"
    assert set(frame["target_id"]) <= ids[targets]
    assert not (frame["query_id"] == frame["target_id"]).any()
    for col in SCORE_COLUMNS:
        assert pd.api.types.is_float_dtype(frame[col]) and frame[col].notna().all()
    assert frame["dense"].between(-1, 1).all() and (frame["bm25"] >= 0).all()
    # the evidence is filled in (closest sentence for both directions: a patent is on one side)
    assert (frame["closest_sentence"].str.len() > 0).all()
    assert (frame["shared_terms"].str.len() > 0).mean() > 0.5
    # display names come from the records
    names = dict(zip(demo_patents["id"], demo_patents["title"])) | dict(zip(demo_enterprises["id"], demo_enterprises["name"]))
    assert (frame["query_name"] == frame["query_id"].map(names)).all()
    assert (frame["target_name"] == frame["target_id"].map(names)).all()


def test_the_intended_patent_tops_its_demand(default_run):
    out, _ = default_run
    frame = pd.read_parquet(out / "matches" / "enterprise_to_patent.parquet")
    top = frame[(frame["query_id"] == "DEMO-D-001") & (frame["rank"] == 1)].iloc[0]
    assert top["target_id"] == "DEMO-P-049"
    assert "起球" in top["shared_terms"] and "起球" in top["closest_sentence"]
    assert top["target_applicant_type"] == "高校"


@pytest.mark.parametrize("stem", STEMS)
def test_csv_and_xlsx_hold_the_parquet_content(default_run, stem):
    out, _ = default_run
    matches = out / "matches"
    parquet = pd.read_parquet(matches / f"{stem}.parquet")
    raw = (matches / f"{stem}.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "the CSV must carry a UTF-8 BOM so that Excel opens it as UTF-8"
    assert parquet["target_name"].iloc[0] in raw.decode("utf-8-sig")  # Chinese text kept as UTF-8
    _same_content(parquet, _read_csv(matches / f"{stem}.csv"), f"{stem}.csv")
    _same_content(parquet, _read_xlsx(matches / f"{stem}.xlsx"), f"{stem}.xlsx")


# --------------------------------------------------------------------------- XLSX limit and filters
def test_xlsx_beyond_the_row_limit_is_skipped_with_a_note(loaded, demo_index, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 250)
    manifest = NightlyJob(loaded, k=5).run(tmp_path)  # 200 enterprise rows, 300 patent rows
    matches = tmp_path / "matches"
    assert (matches / "enterprise_to_patent.xlsx").is_file()
    assert not (matches / "patent_to_enterprise.xlsx").exists()
    assert "patent_to_enterprise.xlsx" not in manifest.files
    assert {"patent_to_enterprise.csv", "patent_to_enterprise.parquet"} <= set(manifest.files)
    assert len(manifest.notes) == 1
    assert "patent_to_enterprise.xlsx skipped" in manifest.notes[0] and "300" in manifest.notes[0]
    stored = json.loads((matches / "run_manifest.json").read_text(encoding="utf-8"))
    assert stored["notes"] == manifest.notes
    assert len(pd.read_parquet(matches / "patent_to_enterprise.parquet")) == 300

    # the CLI shows the note too
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 10)
    res = CliRunner().invoke(app, ["match", "--index-dir", str(demo_index), "--out",
                                   str(tmp_path / "cli"), "-k", "1"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    assert "note: enterprise_to_patent.xlsx skipped" in res.stdout
    assert "note: patent_to_enterprise.xlsx skipped" in res.stdout
    assert not list((tmp_path / "cli" / "matches").glob("*.xlsx"))


def test_filters_are_honoured_in_the_batch(loaded, tmp_path):
    universities = set(loaded.collection(Kind.PATENT).records.query("applicant_type == '高校'")["id"])
    assert 10 < len(universities) < 60
    job = NightlyJob(loaded, k=5, filters={"patent": {"applicant_type": ["高校"]}, "enterprise": {"region": ["浙江"]}})
    manifest = job.run(tmp_path)
    frames = _frames(tmp_path / "matches")
    e2p, p2e = frames["enterprise_to_patent"], frames["patent_to_enterprise"]
    # enterprise -> patent: only university patents, still k for every enterprise
    assert set(e2p["target_applicant_type"]) == {"高校"} and set(e2p["target_id"]) <= universities
    assert e2p.groupby("query_id").size().eq(5).all() and e2p["query_id"].nunique() == 40
    # patent -> enterprise: only enterprises in 浙江 (fewer than k: all of them, ranks 1..n)
    zhejiang = set(loaded.collection(Kind.ENTERPRISE).records.query("region == '浙江'")["id"])
    assert 0 < len(zhejiang)
    assert set(p2e["target_region"]) == {"浙江"} and set(p2e["target_id"]) <= zhejiang
    per_patent = min(5, len(zhejiang))
    assert p2e.groupby("query_id")["rank"].apply(list).map(lambda r: r == list(range(1, per_patent + 1))).all()
    assert manifest.filters == {"patent": {"applicant_type": ["高校"]}, "enterprise": {"region": ["浙江"]}}
    # the batch ranks exactly what a filtered single search ranks
    one = loaded.search(loaded.query_for(Kind.ENTERPRISE, "DEMO-D-002"), Kind.PATENT, k=5,
                        filters={"applicant_type": "高校"})[0]
    assert e2p[e2p["query_id"] == "DEMO-D-002"]["target_id"].tolist() == [m.target_id for m in one.matches]
    # a different filter is a different job: it never resumes the parts of another one
    assert job.run_key() != NightlyJob(loaded, k=5).run_key()


def test_a_cap_spreads_the_lists_over_more_targets(loaded, default_run, tmp_path):
    caps = {"enterprise->patent": 4, "patent->enterprise": 8}  # both leave room for every list (60 patents, 40 enterprises)
    job = NightlyJob(loaded, k=5, max_per_target=caps, formats=("parquet",))
    manifest = job.run(tmp_path)
    capped, uncapped = _frames(tmp_path / "matches"), _frames(default_run[0] / "matches")
    assert job.run_key() != NightlyJob(loaded, k=5, formats=("parquet",)).run_key()
    for stem, direction in zip(STEMS, ("enterprise->patent", "patent->enterprise")):
        out, engine, cap = capped[stem], uncapped[stem], caps[direction]
        engine_top = engine[engine["rank"] <= 5]
        assert engine_top["target_id"].value_counts().max() > cap, "the demo must need the cap for this test to mean anything"
        counts = out["target_id"].value_counts()
        assert counts.max() <= cap
        assert out["target_id"].nunique() >= engine_top["target_id"].nunique()  # spread, never narrowed
        for _, rows in out.groupby("query_id"):
            assert rows["rank"].tolist() == list(range(1, len(rows) + 1))
            assert rows["engine_rank"].is_monotonic_increasing and (rows["engine_rank"] >= rows["rank"]).all()
        # pairs of the engine's own top 5 are kept unless their target is full; nothing else is invented
        kept = set(zip(out["query_id"], out["target_id"]))
        for q, t in zip(engine_top["query_id"], engine_top["target_id"]):
            assert (q, t) in kept or counts.get(t, 0) == cap, (q, t)
        shallow = out[out["engine_rank"] <= 10]  # the depth the uncapped run has
        same = shallow.merge(engine, on=["query_id", "target_id"], suffixes=("", "_engine"))
        assert len(same) == len(shallow) and (same["engine_rank"] == same["rank_engine"]).all()
        assert (same["score"] == same["score_engine"]).all()
        # explained after the cap, as the engine explains them in an uncapped run
        for col in ("shared_terms", "closest_sentence", "held_patent"):
            assert (same[col] == same[f"{col}_engine"]).all(), col
        for col in ("sentence_similarity", "held_similarity"):
            assert np.allclose(same[col], same[f"{col}_engine"], atol=1e-5), col
        assert (out["shared_terms"] != "").mean() > 0.5
        stats = manifest.exposure[direction]
        assert stats["kept"] == len(out) and stats["max_lists_before"] == engine_top["target_id"].value_counts().max()
        assert out.groupby("query_id").size().eq(5).all(), "a cap with room for every list fills every list"
        assert stats["short"] == 0
        assert any(n.startswith(f"{direction}: at most {cap} lists per") for n in manifest.notes)
    stored = json.loads((tmp_path / "matches" / "run_manifest.json").read_text(encoding="utf-8"))
    assert stored["max_per_target"] == caps and stored["exposure"] == manifest.exposure
    # without a cap the engine's rank is the rank
    for frame in uncapped.values():
        assert (frame["engine_rank"] == frame["rank"]).all()
    with pytest.raises(ValueError, match="unknown direction"):
        NightlyJob(loaded, max_per_target={"patent->patent": 3})


def test_directions_are_named_by_the_enum_or_its_value(loaded):
    by_enum = NightlyJob(loaded, k=5, directions=[Direction.PATENT_TO_ENTERPRISE],
                         max_per_target={Direction.PATENT_TO_ENTERPRISE: 3})
    by_value = NightlyJob(loaded, k=5, directions=["patent->enterprise"], max_per_target={"patent->enterprise": 3})
    assert by_enum.directions == by_value.directions == [Direction.PATENT_TO_ENTERPRISE]
    assert by_enum.run_key() == by_value.run_key()
    assert [export.export_stem(d) for d in RECORD_DIRECTIONS] == list(STEMS)
    assert [(d.source, d.target) for d in RECORD_DIRECTIONS] == [(Kind.ENTERPRISE, Kind.PATENT), (Kind.PATENT, Kind.ENTERPRISE)]
    assert Direction.TEXT_TO_PATENT.source is None and Direction.TEXT_TO_PATENT.target == Kind.PATENT


def test_the_cli_caps_one_direction_and_says_when_the_cap_is_too_tight(demo_index, tmp_path):
    res = CliRunner().invoke(app, ["match", "--index-dir", str(demo_index), "--out", str(tmp_path), "-k", "5",
                                   "--formats", "parquet", "--max-per-enterprise", "2"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    frames = _frames(tmp_path / "matches")
    assert frames["patent_to_enterprise"]["target_id"].value_counts().max() <= 2
    assert (frames["enterprise_to_patent"]["engine_rank"] == frames["enterprise_to_patent"]["rank"]).all()
    # 60 patents x 5 slots cannot fit into 40 enterprises x 2 lists: the note says what would
    assert "leaves room for 80 of the 300 slots: a cap of at least 8 can fill every list" in " ".join(res.stdout.split())
    res = CliRunner().invoke(app, ["match", "--index-dir", str(demo_index), "--max-per-patent", "0"])
    assert res.exit_code != 0 and "max-per-patent" in res.output


def test_the_exposure_benchmark_prints_each_cap(demo_index):
    from pipelines.lab.bench_exposure import app as bench_app

    res = CliRunner().invoke(bench_app, ["--index-dir", str(demo_index), "--k", "5", "--depth", "20", "--caps", "0,3"],
                             env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    table = {" ".join(line.split()[:2]): line.split() for line in res.stdout.splitlines()
             if line.startswith(("no cap", "cap 3"))}
    assert set(table) == {"no cap", "cap 3"}
    assert int(table["cap 3"][2]) <= 3 < int(table["no cap"][2])  # the most lists of one target


# --------------------------------------------------------------------------- kill and resume
def _matcher_cmd() -> list[str]:
    script = Path(sys.executable).with_name("matcher")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "pipelines.cli"]


def _env(cache_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MATCHER_ENCODER"}
    env.update(MATCHER_CACHE_DIR=str(cache_dir), COLUMNS="250", PYTHONUNBUFFERED="1")
    return env


def test_killed_run_resumes_and_keeps_the_previous_export(demo_index, cache_dir, tmp_path):
    out = tmp_path / "out"
    base = [*_matcher_cmd(), "match", "--index-dir", str(demo_index), "--out", str(out)]
    env = _env(cache_dir)

    # 1. a complete run
    first = subprocess.run(base, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    before = _hashes(out / "matches")
    assert len(before) == 7

    # 2. another job (many chunks), killed as soon as its first part is on disk
    args = [*base, "-k", "3", "--chunk-size", "1"]
    log = tmp_path / "killed.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(args, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        parts: list[Path] = []
        deadline = time.monotonic() + 240
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                parts = list(out.glob(".work/*/*.parquet"))
                if parts:
                    proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.01)
        finally:
            if proc.poll() is None and not parts:
                proc.kill()
            proc.wait(timeout=60)
    tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
    assert parts, f"the run ended (rc {proc.returncode}) or timed out before a part appeared:\n{tail}"
    assert proc.returncode == -signal.SIGKILL, tail

    # the previous export is untouched, the finished parts are kept
    assert _hashes(out / "matches") == before
    work_dirs = [d for d in (out / ".work").iterdir() if d.is_dir()]
    assert len(work_dirs) == 1
    kept = sorted(work_dirs[0].glob("*.parquet"))
    assert kept and len(kept) < 100

    # 3. the same command again resumes and completes
    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    found = re.search(r"resumed (\d+) of (\d+) chunks", again.stdout)
    assert found, again.stdout
    resumed, total = map(int, found.groups())
    assert resumed == len(kept) >= 1 and total == 100, (resumed, total, len(kept))
    manifest = json.loads((out / "matches" / "run_manifest.json").read_text(encoding="utf-8"))
    assert manifest["chunks_resumed"] == resumed and manifest["chunks_total"] == 100 and manifest["k"] == 3
    assert not work_dirs[0].exists()
    assert _hashes(out / "matches") != before

    # 4. ... with the rows of a clean, uninterrupted run of the same job
    clean = tmp_path / "clean"
    res = CliRunner().invoke(app, ["match", "--index-dir", str(demo_index), "--out", str(clean), "-k", "3",
                                   "--chunk-size", "1"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    assert "resumed" not in res.stdout
    resumed_frames, clean_frames = _frames(out / "matches"), _frames(clean / "matches")
    for stem in STEMS:
        assert len(resumed_frames[stem]) == {"enterprise_to_patent": 40 * 3, "patent_to_enterprise": 60 * 3}[stem]
        pd.testing.assert_frame_equal(resumed_frames[stem], clean_frames[stem])
        _same_content(clean_frames[stem], _read_csv(out / "matches" / f"{stem}.csv"), f"resumed {stem}.csv")
        _same_content(clean_frames[stem], _read_xlsx(out / "matches" / f"{stem}.xlsx"), f"resumed {stem}.xlsx")


def test_pairs_on_the_shortlist_are_left_out_of_both_directions(loaded, default_run, demo_index, tmp_path):
    from matcher.tracking import TrackingStore

    frames = _frames(default_run[0] / "matches")
    e2p, p2e = frames["enterprise_to_patent"], frames["patent_to_enterprise"]
    # the top 2 of three enterprises' lists, and the top pair of two patents' lists
    tracked = [(r.target_id, r.query_id) for r in e2p[e2p["rank"] <= 2].head(6).itertuples()]
    tracked += [(r.query_id, r.target_id) for r in p2e[p2e["rank"] == 1].head(2).itertuples()]
    job = NightlyJob(loaded, k=10, formats=("parquet",), exclude_pairs=tracked)
    assert job.run_key() != NightlyJob(loaded, k=10, formats=("parquet",)).run_key()
    manifest = job.run(tmp_path / "skip")
    assert manifest.excluded_pairs == len(set(tracked)) >= 6
    after = _frames(tmp_path / "skip" / "matches")
    for stem, frame, before in (("enterprise_to_patent", after["enterprise_to_patent"], e2p),
                                ("patent_to_enterprise", after["patent_to_enterprise"], p2e)):
        pairs = set(zip(frame["target_id"], frame["query_id"])) if stem == "enterprise_to_patent" else set(zip(frame["query_id"], frame["target_id"]))
        assert not pairs & set(tracked), stem
        assert len(frame) == len(before)  # every list still full
        assert (frame.groupby("query_id")["rank"].apply(list) == frame.groupby("query_id")["rank"].apply(lambda r: list(range(1, len(r) + 1)))).all()
    # lists without a tracked pair are unchanged
    untouched = set(e2p["query_id"]) - {e for _, e in tracked}
    same = after["enterprise_to_patent"][after["enterprise_to_patent"]["query_id"].isin(untouched)]
    assert same["target_id"].tolist() == e2p[e2p["query_id"].isin(untouched)]["target_id"].tolist()
    # lists with one keep the rest of their order and fill from the next candidates
    new = after["enterprise_to_patent"]
    for enterprise in {e for _, e in tracked[:6]}:
        left = [t for t in e2p[e2p["query_id"] == enterprise]["target_id"] if (t, enterprise) not in tracked]
        assert new[new["query_id"] == enterprise]["target_id"].tolist()[:len(left)] == left

    # the CLI reads the shortlist from the tracking database
    url = f"sqlite:///{tmp_path / 'tracking.sqlite'}"
    store = TrackingStore(url)
    for patent, enterprise in tracked[:2]:
        store.add(patent, enterprise, user="editor")
    res = CliRunner().invoke(app, ["match", "--index-dir", str(demo_index), "--out", str(tmp_path / "cli"), "--formats", "parquet",
                                   "--skip-tracked", "--database-url", url])
    assert res.exit_code == 0, res.output
    assert "left out 2 pairs already on the shortlist" in res.output
    cli = _frames(tmp_path / "cli" / "matches")["enterprise_to_patent"]
    assert not set(zip(cli["target_id"], cli["query_id"])) & set(tracked[:2])
    assert json.loads((tmp_path / "cli" / "matches" / "run_manifest.json").read_text(encoding="utf-8"))["excluded_pairs"] == 2


# --------------------------------------------------------------------------- fault injection (kill -9 at chosen points)
# `matcher match` in a subprocess that SIGKILLs itself at one point of the run (FAULT names it), so every point is hit
# exactly, not by timing. The product has no hooks for this: the wrapper patches functions before the CLI starts.
_FAULTY_MATCH = r'''
import os, signal, sys
import matcher.export as export
import matcher.export.workdir as workdir
import matcher.index.atomic as atomic

fault = os.environ["FAULT"]
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
if fault == "first-direction":  # after the 3rd part of the first direction is on disk
    write_part, written = workdir.write_part, []
    def part(frame, path):
        write_part(frame, path)
        written.append(path)
        if len(written) == 3:
            die()
    export.write_part = part
elif fault == "part-write":  # the 2nd part written to its temporary file, not yet renamed into place
    replace, seen = atomic.os.replace, []
    def slow_replace(src, dst):
        if str(dst).endswith(".parquet"):
            seen.append(dst)
            if len(seen) == 2:
                die()
        return replace(src, dst)
    atomic.os.replace = slow_replace
elif fault == "between-directions":  # the first direction finished, the second not started
    run_direction, done = export.NightlyJob._run_direction, []
    def one(self, *args, **kwargs):
        if done:
            die()
        done.append(1)
        return run_direction(self, *args, **kwargs)
    export.NightlyJob._run_direction = one
elif fault == "writing-files":  # the new export half written in its temporary folder
    write_xlsx = export.write_xlsx
    def xlsx(*args, **kwargs):
        write_xlsx(*args, **kwargs)
        die()
    export.write_xlsx = xlsx
elif fault == "final-swap":  # the previous export moved aside, the new one not yet renamed into place
    rename = atomic.os.rename
    def swap(src, dst):
        if os.path.basename(str(src)).startswith(".matches.tmp-"):
            die()
        return rename(src, dst)
    atomic.os.rename = swap
elif fault == "cleanup":  # the new export in place, the work folder not yet removed
    release = workdir.WorkDir.release
    def gone(self, *, remove):
        if remove:
            die()
        return release(self, remove=remove)
    workdir.WorkDir.release = gone
else:
    raise SystemExit(f"unknown FAULT {fault}")
from pipelines.cli import app
sys.argv[0] = "matcher"
app()
'''
FAULTS = ("first-direction", "part-write", "between-directions", "writing-files", "final-swap", "cleanup")
FAULT_ARGS = ["-k", "3", "--chunk-size", "7"]  # 6 + 9 chunks: several parts per direction


@pytest.fixture(scope="module")
def previous_and_clean(loaded, tmp_path_factory):
    """(a finished default export to be kept intact, a clean uninterrupted run of the faulted job's settings)."""
    previous = tmp_path_factory.mktemp("previous")
    NightlyJob(loaded, k=10).run(previous)
    clean = tmp_path_factory.mktemp("clean")
    NightlyJob(loaded, k=3, chunk_size=7, annotate=partial(office_columns, loaded)).run(clean)  # as `matcher match`
    return previous / "matches", _frames(clean / "matches")


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS)
def test_kill_9_at_each_point_keeps_the_previous_export_and_the_next_run_completes(
        fault, previous_and_clean, demo_index, cache_dir, tmp_path):
    previous, clean = previous_and_clean
    out = tmp_path / "out"
    shutil.copytree(previous, out / "matches")
    before = _hashes(out / "matches")
    args = ["match", "--index-dir", str(demo_index), "--out", str(out), *FAULT_ARGS]
    env = _env(cache_dir)

    killed = subprocess.run([sys.executable, "-c", _FAULTY_MATCH, *args], env={**env, "FAULT": fault},
                            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-2000:] + killed.stderr[-3000:]
    # the previous export is intact: in place, or (killed mid-swap) as the backup the next writer restores
    swapped_out = out / ".matches.old"
    if fault == "final-swap":
        assert not (out / "matches").exists() and _hashes(swapped_out) == before
    elif fault == "cleanup":
        assert _hashes(out / "matches") != before  # the new export was already complete and in place
    else:
        assert _hashes(out / "matches") == before and not swapped_out.exists()
    work = list(out.glob(".work/*"))
    assert len(work) == 1
    if fault == "first-direction":
        assert len(list(work[0].glob("*.parquet"))) == 3
    if fault == "part-write":  # the part in progress is a hidden temporary file, never a half part under its name
        assert len(list(work[0].glob("*.parquet"))) == 1 and list(work[0].glob(".*.parquet.tmp-*"))

    again = subprocess.run([*_matcher_cmd(), *args], env=env, capture_output=True, text=True, timeout=300,
                           stdin=subprocess.DEVNULL)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    found = _frames(out / "matches")
    for stem in STEMS:
        pd.testing.assert_frame_equal(found[stem], clean[stem])
        _same_content(clean[stem], _read_csv(out / "matches" / f"{stem}.csv"), f"{fault}: {stem}.csv")
    manifest = json.loads((out / "matches" / "run_manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows"] == {"enterprise->patent": 40 * 3, "patent->enterprise": 60 * 3}
    assert not [n for n in manifest["notes"] if "unreadable" in n]
    assert not swapped_out.exists() and not list(out.glob(".matches.tmp-*"))
    assert not [d for d in (out / ".work").iterdir()], "the work folder outlived a finished run"
    print(f"FAULT {fault}: runs 2, rows expected {sum(map(len, clean.values()))}, rows found "
          f"{sum(map(len, found.values()))}, chunks resumed {manifest['chunks_resumed']} of {manifest['chunks_total']}")


# --------------------------------------------------------------------------- resume files
def _interrupted(loaded: Matcher, out: Path, monkeypatch, **settings) -> NightlyJob:
    """A job whose run died after every part was stored (the export swap raises): its parts stay in .work."""
    job = NightlyJob(loaded, **settings)

    def boom(*_args, **_kwargs):
        raise RuntimeError("killed")

    with monkeypatch.context() as m:
        m.setattr(export, "atomic_dir", boom)
        with pytest.raises(RuntimeError):
            job.run(out)
    return job


def test_a_truncated_part_is_recomputed_with_a_note(loaded, tmp_path, monkeypatch):
    out = tmp_path / "out"
    job = _interrupted(loaded, out, monkeypatch, k=3, chunk_size=7, formats=("parquet",))
    parts = sorted((out / ".work" / job.run_key()).glob("*.parquet"))
    assert len(parts) == 15
    bad, empty = parts[2], parts[9]
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])  # a part cut short (a crash without fsync)
    empty.write_bytes(b"")
    manifest = job.run(out)
    assert manifest.chunks_total == 15 and manifest.chunks_resumed == 13
    unreadable = [n for n in manifest.notes if "unreadable" in n]
    assert len(unreadable) == 2 and bad.name in unreadable[0] + unreadable[1] and empty.name in " ".join(unreadable)
    assert all(n.endswith("recomputed") for n in unreadable)
    clean = tmp_path / "clean"
    NightlyJob(loaded, k=3, chunk_size=7, formats=("parquet",)).run(clean)
    for stem, frame in _frames(out / "matches").items():
        pd.testing.assert_frame_equal(frame, _frames(clean / "matches")[stem])
    stored = json.loads((out / "matches" / "run_manifest.json").read_text(encoding="utf-8"))
    assert stored["notes"] == manifest.notes


def test_the_cli_recomputes_a_truncated_part_instead_of_failing(demo_index, tmp_path, monkeypatch):
    out = tmp_path / "out"
    args = ["match", "--index-dir", str(demo_index), "--out", str(out), "-k", "2", "--chunk-size", "20", "--formats", "csv"]

    def boom(*_args, **_kwargs):
        raise RuntimeError("killed")

    with monkeypatch.context() as m:  # a run that died after storing its parts
        m.setattr(export, "atomic_dir", boom)
        assert isinstance(CliRunner().invoke(app, args).exception, RuntimeError)
    parts = sorted(out.glob(".work/*/*.parquet"))
    assert len(parts) == 5
    part = parts[0]
    part.write_bytes(part.read_bytes()[:100])
    res = CliRunner().invoke(app, args, env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    assert f"note: {part.name} of an interrupted run was unreadable" in text and "recomputed" in text
    assert "resumed 4 of 5 chunks" in text
    assert "magic bytes" not in res.stdout.split("note:")[0]


def test_parts_are_fsynced_and_old_work_folders_removed_unless_held(loaded, tmp_path, monkeypatch):
    import fcntl

    out = tmp_path / "out"
    abandoned, held = out / ".work" / "0123456789abcdef", out / ".work" / "fedcba9876543210"
    for folder in (abandoned, held):
        folder.mkdir(parents=True)
        (folder / "enterprise_to_patent-00000.parquet").write_bytes(b"PAR1 of another run")
    lock = os.open(held / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)  # a run of other settings still going on
    synced: list[int] = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), fsync(fd))[1])
    try:
        job = NightlyJob(loaded, k=2, chunk_size=20, formats=("parquet",))
        manifest = job.run(out)
        assert not abandoned.exists() and held.is_dir()
        assert any("removed the work folders of 1 earlier run" in n and abandoned.name in n for n in manifest.notes)
        # 5 parts, each fsynced with its folder, besides the export files
        assert len(synced) >= 2 * 5
        # the same settings while another run of them holds the folder: a clear error, nothing removed
        again = out / ".work" / job.run_key()
        again.mkdir()
        own = os.open(again / ".lock", os.O_RDWR | os.O_CREAT)
        fcntl.flock(own, fcntl.LOCK_EX)
        with pytest.raises(MatcherError, match="another `matcher match` with the same settings"):
            job.run(out)
        os.close(own)
    finally:
        os.close(lock)
    assert held.is_dir()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_the_nightly_job_lets_go_of_the_mapped_vectors_once_every_list_is_ranked(demo_index, config, tmp_path,
                                                                                  monkeypatch):
    """The index's vectors are memory-mapped; the pages ranking touched are taken out of the job's resident set before
    the export is built and written (they are not read again), and the export is the same."""
    matcher = Matcher.load(demo_index, config)
    files = matcher.mapped_files()
    names = {(f.parent.parent.name, f.name) for f in files}
    assert {("patent", "vectors.npy"), ("enterprise", "vectors.npy"), ("items", "vectors.npy")} <= names
    resident: dict[str, int] = {}

    def annotate(direction, frame):  # runs after the ranking, before the files are written
        resident[direction.value] = mapped_resident_kib(files)
        return frame

    query = matcher.query_for(Kind.PATENT, matcher.collection(Kind.PATENT).ids[0])
    matcher.search(query, Kind.ENTERPRISE, k=5)
    assert mapped_resident_kib(files) > 0
    NightlyJob(matcher, k=5, annotate=annotate).run(tmp_path / "out")
    assert resident == {"enterprise->patent": 0, "patent->enterprise": 0}
    matcher.search(query, Kind.ENTERPRISE, k=5)
    assert mapped_resident_kib(files) > 0  # the maps still work: pages come back when read

