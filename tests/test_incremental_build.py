"""`matcher build` against a saved index with the same settings (matcher.build): identical inputs leave the index as
it is; added, changed and removed records are applied to it and give what a full build gives; other settings, other
library versions or `--full` build in full."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.build import build_index
from matcher.engine import Matcher
from matcher.export import NightlyJob
from matcher.index.changes import complete_records, record_changes
from matcher.ingest import LoadResult
from matcher.rank.reciprocal import ReciprocalRanks
from matcher.schema import Kind
from pipelines.main import app

STEMS = ("enterprise_to_patent", "patent_to_enterprise")


@pytest.fixture(autouse=True)
def _shared_cache(monkeypatch, cache_dir):
    monkeypatch.setenv("MATCHER_CACHE_DIR", str(cache_dir))


def build(*args) -> str:
    res = CliRunner().invoke(app, ["build", *map(str, args)], env={"COLUMNS": "250"})
    assert res.exit_code == 0, f"exit {res.exit_code}: {res.output}\n{res.exception!r}"
    return res.stdout


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def _edited(patents: pd.DataFrame, enterprises: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each side with its first record changed, its third removed and a new record added."""
    patents, enterprises = patents.copy(), enterprises.copy()
    patents.loc[0, "abstract"] += "；并可用于锂电池回收后的正极材料再生"
    new_patent = patents.iloc[[1]].assign(id="NEW-P-1", title="一种储能电池热管理系统",
                                          abstract="本发明公开一种储能电池热管理系统，采用液冷板与相变材料降低电芯温差。")
    enterprises.loc[0, "text"] += "；另外从事锂电池回收与储能系统集成"
    new_enterprise = enterprises.iloc[[1]].assign(id="NEW-E-1", name="示例储能科技有限公司",
                                                  text="储能系统集成；电池热管理；液冷板的研发与销售")
    patents = pd.concat([patents.drop(index=2), new_patent], ignore_index=True)
    enterprises = pd.concat([enterprises.drop(index=2), new_enterprise], ignore_index=True)
    return patents, enterprises


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """An export with its lists in query-id order (an updated index asks its new records last)."""
    return frame.sort_values(["query_id", "rank"], kind="stable").reset_index(drop=True)


def _records(index: Path, config) -> dict[Kind, pd.DataFrame]:
    matcher = Matcher.load(index, config)
    return {kind: matcher.collection(kind).records.sort_values("id").reset_index(drop=True) for kind in Kind}


def test_identical_inputs_leave_the_saved_index_untouched(tmp_path, demo_patents, demo_enterprises):
    index = tmp_path / "index"
    patents, enterprises = _write(demo_patents, tmp_path / "p.csv"), _write(demo_enterprises, tmp_path / "e.csv")
    first = build("--patents", patents, "--enterprises", enterprises, "--index-dir", index)
    assert "full build (no index yet)" in first
    files = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in index.rglob("*") if p.is_file()}

    again = build("--patents", patents, "--enterprises", enterprises, "--index-dir", index)
    assert "updated the saved index (the saved index has the same settings" in again
    assert "patent: 0 added, 0 changed, 0 deleted, 60 unchanged (60 records)" in again
    assert "enterprise: 0 added, 0 changed, 0 deleted, 40 unchanged (40 records)" in again
    assert "nothing changed" in again
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in index.rglob("*") if p.is_file()} == files

    # a side given no input is kept as before; --replace-all drops it (a change: the index is written)
    only_patents = build("--patents", patents, "--index-dir", index)
    assert "enterprise: kept from the current index (40 records" in only_patents and "nothing changed" in only_patents
    dropped = build("--patents", patents, "--index-dir", index, "--replace-all")
    assert "enterprise: dropped (40 records, --replace-all)" in dropped
    assert Matcher.stored_counts(index) == {Kind.PATENT: 60}


def test_an_updated_index_ranks_as_a_full_build_of_the_same_records(tmp_path, config, demo_patents, demo_enterprises):
    index, fresh = tmp_path / "index", tmp_path / "fresh"
    build("--patents", _write(demo_patents, tmp_path / "p.csv"), "--enterprises", _write(demo_enterprises, tmp_path / "e.csv"),
          "--index-dir", index)
    patents, enterprises = _edited(demo_patents, demo_enterprises)
    inputs = ("--patents", _write(patents, tmp_path / "p2.csv"), "--enterprises", _write(enterprises, tmp_path / "e2.csv"))

    updated = build(*inputs, "--index-dir", index)
    assert "patent: 1 added, 1 changed, 1 deleted, 58 unchanged (60 records)" in updated
    assert "enterprise: 1 added, 1 changed, 1 deleted, 38 unchanged (40 records)" in updated
    assert "full build (asked for a full build)" in build(*inputs, "--index-dir", fresh, "--full")

    ours, theirs = _records(index, config), _records(fresh, config)
    for kind in Kind:
        pd.testing.assert_frame_equal(ours[kind], theirs[kind])
    exports = {}
    for name, folder in (("updated", index), ("full", fresh)):
        NightlyJob(Matcher.load(folder, config), formats=("parquet",)).run(tmp_path / f"out-{name}")
        exports[name] = {s: pd.read_parquet(tmp_path / f"out-{name}" / "matches" / f"{s}.parquet") for s in STEMS}
    for stem in STEMS:
        assert len(exports["full"][stem]) > 100
        ours, theirs = _sorted(exports["updated"][stem]), _sorted(exports["full"][stem])
        # the same pairs, ranks, scores and explanations; BM25 sums a record's terms in vocabulary order, which an
        # updated index holds in another order (new terms last), so its component may differ in the last float32 bit
        pd.testing.assert_frame_equal(ours.drop(columns="bm25"), theirs.drop(columns="bm25"), check_exact=True)
        pd.testing.assert_series_equal(ours["bm25"], theirs["bm25"], check_exact=False, atol=1e-5, rtol=0)
    # the reciprocal lists were ranked again for the changed records and saved with them
    updated_engine = Matcher.load(index, config)
    assert updated_engine.signals.reciprocal_current()


def test_other_settings_or_a_full_build_index_everything_again(tmp_path, demo_patents):
    index = tmp_path / "index"
    patents = _write(demo_patents, tmp_path / "p.csv")
    build("--patents", patents, "--index-dir", index)
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"bm25_k1": 1.5}), encoding="utf-8")
    other = build("--patents", patents, "--index-dir", index, "--config", settings)
    assert "full build (the settings differ from the saved index's in bm25_k1)" in other
    assert "full build (asked for a full build)" in build("--patents", patents, "--index-dir", index, "--config", settings, "--full")
    assert "updated the saved index" in build("--patents", patents, "--index-dir", index, "--config", settings)

    manifest = index / "patent" / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["versions"]["numpy"] = "0.0"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    assert "full build (the saved index was built with other library versions)" in build(
        "--patents", patents, "--index-dir", index, "--config", settings)

    (index / "patent" / "records.parquet").write_bytes(b"damaged")  # unreadable: built again from the inputs
    damaged = build("--patents", patents, "--index-dir", index, "--config", settings)
    assert "full build (the saved index cannot be updated (" in damaged and "is damaged" in damaged
    assert Matcher.stored_counts(index) == {Kind.PATENT: 60}


def test_reciprocal_lists_out_of_date_are_ranked_again_and_saved(tmp_path, config, demo_patents, demo_enterprises):
    index = tmp_path / "index"
    inputs = [LoadResult(demo_patents, kind=Kind.PATENT), LoadResult(demo_enterprises, kind=Kind.ENTERPRISE)]
    assert not build_index(Matcher(config), inputs, index).incremental
    (index / ReciprocalRanks.FILE).unlink()
    report = build_index(Matcher(config), inputs, index)
    assert report.incremental and report.saved and "out of date" in report.reason
    assert (index / ReciprocalRanks.FILE).is_file() and Matcher.load(index, config).signals.reciprocal_current()
    again = build_index(Matcher(config), inputs, index)
    assert again.incremental and not again.saved


def test_record_changes_compare_every_column_and_take_the_last_of_an_id_given_twice(config, demo_patents):
    matcher = Matcher(config)
    matcher.index(Kind.PATENT, demo_patents)
    coll = matcher.collection(Kind.PATENT)
    first = demo_patents.iloc[:3].copy()
    later = demo_patents.iloc[[1]].copy()
    later["applicant"] = "另一所大学"  # a column outside the indexed text counts too
    frame = complete_records(Kind.PATENT, [first, later])
    assert frame["id"].tolist() == first["id"].tolist() and frame.loc[1, "applicant"] == "另一所大学"

    changes = record_changes(coll, Kind.PATENT, frame)
    assert changes.upserts["id"].tolist() == [demo_patents["id"].iloc[1]] and changes.added == 0
    assert changes.unchanged == 2 and len(changes.deletions) == len(demo_patents) - 3
    assert changes.deletions[0] == demo_patents["id"].iloc[3]
    assert record_changes(coll, Kind.PATENT, complete_records(Kind.PATENT, [demo_patents])).empty
    assert record_changes(None, Kind.PATENT, frame).added == 3


def test_a_full_build_of_several_inputs_of_one_kind_equals_indexing_them_one_after_the_other(tmp_path, config,
                                                                                             demo_enterprises):
    """A full build indexes the inputs of a kind as one frame (so that the new index keeps its vectors without a
    copy): the same rows, vectors, BM25 terms and scope items as indexing each input in turn, where a later record
    replaces an earlier one with its id in that one's row. (BM25 numbers its terms in the order first met: the record
    given twice is met in its later version first, so its terms are numbered in another order and a score may differ
    in its last float32 bit, as for an updated index.)"""
    first = demo_enterprises.iloc[:8].copy()
    later = demo_enterprises.iloc[6:].copy()
    later.iloc[0, later.columns.get_loc("text")] += "；另外从事锂电池回收与储能系统集成"  # an id given twice
    built = build_index(Matcher(config), [LoadResult(first, kind=Kind.ENTERPRISE),
                                          LoadResult(later, kind=Kind.ENTERPRISE)], tmp_path / "index").matcher
    in_turn = Matcher(config)
    for frame in (first, later):
        in_turn.index(Kind.ENTERPRISE, frame)
    a, b = built.collection(Kind.ENTERPRISE), in_turn.collection(Kind.ENTERPRISE)
    pd.testing.assert_frame_equal(a.records, b.records)
    assert a.ids == b.ids and len(a) == len(demo_enterprises)
    np.testing.assert_array_equal(a.vectors(a.ids), b.vectors(b.ids))
    # the same terms; the vocabulary numbers them in the order first met, which the record given twice changes
    assert [sorted(t) for t in a.stored_terms(a.ids)] == [sorted(t) for t in b.stored_terms(b.ids)]
    rows = a.rows_of(a.ids)
    assert [a.items.items_of(r) for r in rows] == [b.items.items_of(r) for r in rows]
    np.testing.assert_array_equal(a.items.dense.ids, b.items.dense.ids)
    assert "锂电池回收" in a.record(later["id"].iloc[0])["text"]
