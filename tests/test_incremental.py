"""Incremental nightly runs (matcher.export.incremental): after upserting and deleting a few records, `NightlyJob`
ranks again only the lists that can move and writes the same export as a full run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from matcher.engine import Matcher
from matcher.export import NightlyJob, RunManifest
from matcher.schema import RECORD_DIRECTIONS, Direction, Kind

STEMS = ("enterprise_to_patent", "patent_to_enterprise")


def _frames(out: Path) -> dict[str, pd.DataFrame]:
    return {stem: pd.read_parquet(out / "matches" / f"{stem}.parquet") for stem in STEMS}


def _same_as_full(index: Path, out: Path, full_out: Path, config=None, **settings) -> RunManifest:
    """Run the job again in `out` (incremental when it can) and in a fresh folder (full): the same files."""
    manifest = NightlyJob(Matcher.load(index, config), formats=("parquet", "csv"), **settings).run(out)
    full = NightlyJob(Matcher.load(index, config), formats=("parquet", "csv"), incremental=False, **settings).run(full_out)
    assert full.mode == "full" and "full run: asked for (--full)" in full.notes
    ours, theirs = _frames(out), _frames(full_out)
    for stem in STEMS:
        assert len(theirs[stem]) > 20
        pd.testing.assert_frame_equal(ours[stem], theirs[stem], check_exact=True)
        assert (out / "matches" / f"{stem}.csv").read_bytes() == (full_out / "matches" / f"{stem}.csv").read_bytes()
    return manifest


@pytest.fixture
def index(tmp_path, config, demo_patents, demo_enterprises) -> Path:
    matcher = Matcher(config)
    matcher.index(Kind.PATENT, demo_patents)
    matcher.index(Kind.ENTERPRISE, demo_enterprises)
    matcher.save(tmp_path / "index")
    return tmp_path / "index"


def _change(index: Path, kind: Kind, frame: pd.DataFrame, config) -> tuple[str, str, str]:
    """Upsert one changed record and one new record of `kind` and delete another; their ids."""
    matcher = Matcher.load(index, config)
    changed, new = frame.iloc[[0]].copy(), frame.iloc[[1]].copy()
    text = "abstract" if kind == Kind.PATENT else "text"
    changed[text] = changed[text] + "；另外从事锂电池回收与储能系统集成"
    new["id"] = "NEW-1"
    new[text] = "新型储能材料与锂电池回收技术的研发与应用"
    matcher.index(kind, pd.concat([changed, new], ignore_index=True))
    gone = str(frame["id"].iloc[2])
    assert matcher.delete(kind, [gone]) == 1
    matcher.save(index)
    return str(changed["id"].iloc[0]), "NEW-1", gone


def _without_reciprocal(config):
    """The settings without the "reciprocal" weight: on the 40 demo enterprises every patent's own list holds all
    of them, so a change moves every enterprise's place in some list (and its enterprise -> patent list may move)."""
    e2p = Direction.ENTERPRISE_TO_PATENT
    fusion = config.fusion_for(e2p)
    weights = {name: w for name, w in fusion.weights.items() if name != "reciprocal"}
    return config.model_copy(update={"fusion": {**config.fusion, e2p: fusion.model_copy(update={"weights": weights})}})


def test_enterprises_changed_rank_again_only_their_lists(index, tmp_path, config, demo_enterprises):
    out, settings = tmp_path / "out", _without_reciprocal(config)
    first = NightlyJob(Matcher.load(index, settings), formats=("parquet", "csv")).run(out)
    assert first.mode == "full" and not first.notes
    changed, new, gone = _change(index, Kind.ENTERPRISE, demo_enterprises, config)

    manifest = _same_as_full(index, out, tmp_path / "full", settings)
    assert manifest.mode == "incremental"
    e2p = Direction.ENTERPRISE_TO_PATENT.value
    n_enterprises = len(demo_enterprises)  # one deleted, one added
    assert manifest.recomputed[e2p] == 2  # the changed and the new enterprise
    assert any(n.startswith(f"{e2p}: incremental: {manifest.recomputed[e2p]:,} of {n_enterprises:,}") for n in manifest.notes)
    # the enterprises are what patent -> enterprise ranks: every patent's list is ranked again, with the reason
    assert Direction.PATENT_TO_ENTERPRISE.value not in manifest.recomputed
    assert any("every list ranked again: the enterprises ranked changed" in n for n in manifest.notes)
    rows = _frames(out)["enterprise_to_patent"]
    assert gone not in set(rows["query_id"]) and {changed, new} <= set(rows["query_id"])

    # nothing changed since: every list is kept
    again = NightlyJob(Matcher.load(index, settings), formats=("parquet", "csv")).run(out)
    assert again.mode == "incremental" and set(again.recomputed.values()) == {0}
    for stem, frame in _frames(out).items():
        pd.testing.assert_frame_equal(frame, _frames(tmp_path / "full")[stem], check_exact=True)


def test_enterprises_changed_with_the_reciprocal_signal_match_a_full_run(index, tmp_path, config, demo_enterprises):
    out = tmp_path / "out"
    NightlyJob(Matcher.load(index), formats=("parquet", "csv")).run(out)
    _change(index, Kind.ENTERPRISE, demo_enterprises, config)
    manifest = _same_as_full(index, out, tmp_path / "full")
    # every enterprise whose place in a patent's own list moved is ranked again (on the demo: all of them)
    assert manifest.mode == "incremental" and manifest.recomputed[Direction.ENTERPRISE_TO_PATENT.value] >= 2


def test_patents_changed_under_a_cap_match_a_full_run(index, tmp_path, config, demo_patents):
    out = tmp_path / "out"
    settings = {"k": 3, "max_per_target": {Direction.ENTERPRISE_TO_PATENT: 2}}
    NightlyJob(Matcher.load(index), formats=("parquet", "csv"), **settings).run(out)
    _change(index, Kind.PATENT, demo_patents, config)
    manifest = _same_as_full(index, out, tmp_path / "full", **settings)
    assert any("every list ranked again: the patents ranked changed" in n for n in manifest.notes)
    # other settings than the previous run's: a full run, said so
    other = NightlyJob(Matcher.load(index), k=4, formats=("parquet",)).run(out)
    assert other.mode == "full" and any("previous run in this export folder had other settings" in n for n in other.notes)


def test_unchanged_rows_keep_the_previous_files_and_state(index, tmp_path, config, demo_enterprises):
    out = tmp_path / "out"
    formats = ("parquet", "csv", "xlsx")
    NightlyJob(Matcher.load(index), formats=formats).run(out)
    files = {p.name: p.stat() for p in (out / "matches").iterdir() if p.name != "run_manifest.json"}
    state = {p.name: p.stat().st_mtime_ns for p in (out / ".incremental").iterdir()}
    full_csv = (out / "matches" / "enterprise_to_patent.csv").read_bytes()

    again = NightlyJob(Matcher.load(index), formats=formats).run(out)
    assert sum("the same rows as the previous run: its files kept" in n for n in again.notes) == 2
    assert sorted(again.files) == sorted(files) and set(again.digests) == {d.value for d in RECORD_DIRECTIONS}
    for name, before in files.items():  # the same files, linked: not written again
        now = (out / "matches" / name).stat()
        assert (now.st_ino, now.st_size, now.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    assert {p.name: p.stat().st_mtime_ns for p in (out / ".incremental").iterdir()} == state
    assert RunManifest.read(out / "matches" / "run_manifest.json").finished_at == again.finished_at

    # a file changed by hand since is written again; the untouched ones stay kept
    edited = out / "matches" / "enterprise_to_patent.csv"
    edited.write_bytes(b"edited")
    third = NightlyJob(Matcher.load(index), formats=formats).run(out)
    assert edited.read_bytes() == full_csv
    assert any(n.startswith("patent->enterprise: the same rows") for n in third.notes)
    assert not any(n.startswith("enterprise->patent: the same rows") for n in third.notes)

    # changed rows are written again, and the state with them
    _change(index, Kind.ENTERPRISE, demo_enterprises, config)
    fourth = NightlyJob(Matcher.load(index), formats=formats).run(out)
    assert not any("its files kept" in n for n in fourth.notes)
    assert (out / "matches" / "patent_to_enterprise.parquet").stat().st_ino != files["patent_to_enterprise.parquet"].st_ino
    assert {p.name: p.stat().st_mtime_ns for p in (out / ".incremental").iterdir()} != state
    _same_as_full(index, out, tmp_path / "full")


def test_empty_filters_are_the_settings_of_no_filter(index):
    # `matcher match` passes an empty filter per side: the same run as the library's default, so one keeps the other's lists
    matcher = Matcher.load(index)
    assert NightlyJob(matcher, filters={"patent": {}, "enterprise": {}}).run_key() == NightlyJob(matcher).run_key()
    assert NightlyJob(matcher, filters={"patent": {"applicant_type": ["高校"]}}).run_key() != NightlyJob(matcher).run_key()
