"""The held-out benchmark sets (matcher.lab.held_out, `matcher lab held-out`): what they ask, of whom, that nothing in them
is trained on, and that a failed build leaves the last good sets in place."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from matcher.errors import InputError
from matcher.lab.evaluate import load_beir, mirror_records, sides
from matcher.lab.held_out import HELD_OUT_SETS, build_held_out
from matcher.schema import Kind
from matcher.text.normalize import company_key
from matcher.lab.folds import dev_companies, training_exclusions
from conftest import SHARED
from mini_shared import mini_shared
from pipelines.main import app



@pytest.fixture()
def shared(tmp_path) -> Path:
    return mini_shared(tmp_path / "shared")


def test_the_other_filers_ask_and_are_asked_for_their_own_patents(shared, tmp_path):
    folders = build_held_out(shared, tmp_path / "held-out")
    assert list(folders) == list(HELD_OUT_SETS)

    # 丁测试 filed P3 and no dev benchmark judges it; 甲 / 乙 / 丙 are dev companies, 某大学 is not registered
    p2c = load_beir(folders["p2c-other"])
    assert p2c.queries == {"P3": "一种装置3。本发明公开了一种装置3，包括壳体和传感器3。"}
    assert p2c.qrels == {"P3": {"C3": 1}}
    assert len(p2c.corpus) == 5  # p2c-dev's company profiles

    c2p = load_beir(folders["c2p-other"])
    assert c2p.queries == {"C3": "丁测试科技有限公司。经营范围：技术开发"}  # the stored profile, as c2p-dev asks
    assert c2p.qrels == {"C3": {"P3": 1}}
    assert {d["_id"] for d in c2p.corpus} == {f"P{i}" for i in range(5)}
    # evaluated as c2p-dev is: the companies asked as the stored records of the mirror beside it
    assert mirror_records(folders["c2p-other"]) == folders["p2c-other"] / "corpus.jsonl"
    assert sides("c2p-other") == (Kind.ENTERPRISE, Kind.PATENT) and sides("p2c-other") == (Kind.PATENT, Kind.ENTERPRISE)


def test_a_failed_build_names_the_file_and_keeps_the_last_sets(shared, tmp_path):
    out = tmp_path / "held-out"
    build_held_out(shared, out)
    before = {name: (out / name / "qrels" / "test.tsv").read_text(encoding="utf-8") for name in HELD_OUT_SETS}
    (shared / "data" / "bdci_patents" / "patents.csv").unlink()
    with pytest.raises(InputError, match="patents.csv is missing"):
        build_held_out(shared, out)
    assert {name: (out / name / "qrels" / "test.tsv").read_text(encoding="utf-8") for name in HELD_OUT_SETS} == before
    assert sorted(p.name for p in out.iterdir()) == sorted(HELD_OUT_SETS)  # no temporary folder left behind


def test_cli_builds_the_sets_and_fails_in_one_line(shared, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["lab", "held-out", "--out", str(tmp_path / "ho"), "--shared-dir", str(shared)])
    assert result.exit_code == 0, result.output
    assert "p2c-other" in result.stdout and "c2p-other" in result.stdout
    assert load_beir(tmp_path / "ho" / "c2p-other").qrels == {"C3": {"P3": 1}}
    bad = runner.invoke(app, ["lab", "held-out", "--out", str(tmp_path / "ho2"), "--shared-dir", str(tmp_path / "nowhere")])
    assert bad.exit_code == 2
    assert "p2c-dev" in bad.output and "--shared-dir" in bad.output


@pytest.mark.shared
@pytest.mark.skipif(not (SHARED / "benchmarks" / "c2p-dev").is_dir(), reason="shared data not present")
def test_real_held_out_sets_judge_companies_never_trained_on(tmp_path):
    folders = build_held_out(SHARED, tmp_path)
    sizes = {name: (len(load_beir(f).queries), sum(map(len, load_beir(f).qrels.values()))) for name, f in folders.items()}
    assert sizes == {"p2c-other": (149, 149), "c2p-other": (114, 149)}
    c2p = load_beir(folders["c2p-other"])
    asked = {company_key(q.split("。", 1)[0]) for q in c2p.queries.values()}
    assert not asked & dev_companies(SHARED)
    assert asked <= training_exclusions(SHARED).companies  # left out of every trained model
