"""The nightly lists read back for the workbench (matcher/workbench/batch.py), on real batch runs of the demo index."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from matcher.engine import Matcher
from matcher.errors import InputError
from matcher.export import NightlyJob, index_info
from matcher.schema import Kind
from matcher.tracking import TrackingStore, major_industry
from matcher.workbench.batch import (
    BATCH_COLUMNS,
    BatchFilter,
    filter_pairs,
    load_batch,
    mark_tracked,
    most_listed,
    pair_table,
    run_summary,
    stale_reasons,
)

P2E, E2P = "patent->enterprise", "enterprise->patent"
CAP = 20  # 60 patents x 10 slots over 40 enterprises: at least 15 fills every list, so 20 moves slots but leaves none short


@pytest.fixture(scope="module")
def capped_run(loaded, tmp_path_factory):
    """A batch run with the patent -> enterprise lists capped at CAP lists per enterprise: the matches folder."""
    out = tmp_path_factory.mktemp("batch")
    NightlyJob(loaded, k=10, formats=("parquet", "csv"), max_per_target={P2E: CAP}).run(out)
    return out / "matches"


def test_both_directions_as_pairs_with_both_sides_metadata(capped_run, loaded):
    batch = load_batch(capped_run)
    assert batch is not None and batch.manifest.max_per_target == {P2E: CAP}
    patents = loaded.collection(Kind.PATENT).records.set_index("id")
    enterprises = loaded.collection(Kind.ENTERPRISE).records.set_index("id")
    for direction, patent_side in ((P2E, "query"), (E2P, "target")):
        raw = batch.frames[direction]
        table = pair_table(batch, direction, loaded.collection(Kind.PATENT).records, loaded.collection(Kind.ENTERPRISE).records)
        assert list(table.columns) == BATCH_COLUMNS
        assert len(table) == batch.manifest.rows[direction] == len(raw)
        enterprise_side = "target" if patent_side == "query" else "query"
        assert table["专利号"].tolist() == raw[f"{patent_side}_id"].tolist()
        assert table["企业/需求编号"].tolist() == raw[f"{enterprise_side}_id"].tolist()
        assert table["排名"].tolist() == raw["rank"].tolist() and table["引擎排名"].tolist() == raw["engine_rank"].tolist()
        assert "综合分" not in table and table["匹配度"].between(0, 100).all()  # 匹配度, never the raw fused score
        best = table.groupby("企业/需求编号" if patent_side == "target" else "专利号")["匹配度"].idxmax()
        assert (table.loc[best, "排名"] <= 3).mean() > 0.8  # the best 匹配度 of a list sits at its top
        # how many of the run's lists hold each target, on every row of that target
        lists = raw.groupby("target_id")["query_id"].nunique()
        assert table["出现清单数"].tolist() == raw["target_id"].map(lists).tolist()
        # metadata of both sides, whichever side the export carried
        for _, row in table.sample(20, random_state=0).iterrows():
            p, e = patents.loc[row["专利号"]], enterprises.loc[row["企业/需求编号"]]
            assert row["申请人类型"] == (p["applicant_type"] or "") and row["专利行业"] == (p["industry"] or "")
            assert row["企业地区"] == (e["region"] or "") and row["企业规模"] == (e["size"] or "")
            assert row["注册资本"] == (e["capital"] or "")
        assert (table["跟踪状态"] == "").all()
    p2e = pair_table(batch, P2E)
    assert p2e["出现清单数"].max() <= CAP < batch.manifest.exposure[P2E]["max_lists_before"]
    assert (p2e["引擎排名"] > p2e["排名"]).any()  # slots moved to deeper candidates
    top = most_listed(p2e, P2E, n=3)
    assert list(top.columns) == ["名称", "编号", "出现清单数"] and top["出现清单数"].tolist() == [CAP] * 3
    assert top["编号"].tolist() == sorted(top["编号"])  # ties by id
    summary = "\n".join(run_summary(batch.manifest))
    assert "每个清单取前 10 名" in summary and "专利 60 条" in summary and "企业/需求 40 条" in summary
    assert f"每个企业/需求最多出现在 {CAP} 个清单中" in summary and "企业/需求 → 专利（每个企业/需求的专利清单）：400 对；未设出现次数上限" in summary
    assert f"封顶前单个企业/需求最多出现在 {batch.manifest.exposure[P2E]['max_lists_before']} 个清单中" in summary


def test_filters_and_tracking_status(capped_run, loaded, tmp_path):
    batch = load_batch(capped_run)
    table = pair_table(batch, E2P, loaded.collection(Kind.PATENT).records, loaded.collection(Kind.ENTERPRISE).records)
    assert filter_pairs(table, BatchFilter()).equals(table)
    one = filter_pairs(table, BatchFilter(needle="demo-d-002"))
    assert set(one["企业/需求编号"]) == {"DEMO-D-002"} and len(one) == 10
    top3 = filter_pairs(table, BatchFilter(max_rank=3))
    assert len(top3) == 3 * 40 and top3["排名"].max() == 3
    industry = major_industry(table["专利行业"].iloc[0])
    hit = filter_pairs(table, BatchFilter(patent_industries=[industry]))
    assert 0 < len(hit) < len(table) and set(hit["专利行业"].map(major_industry)) == {industry}
    kind = table["申请人类型"].iloc[0]
    assert set(filter_pairs(table, BatchFilter(applicant_types=[kind]))["申请人类型"]) == {kind}
    region = next(r for r in table["企业地区"] if r)
    both = filter_pairs(table, BatchFilter(enterprise_regions=[region], max_rank=1))
    assert set(both["企业地区"]) == {region} and set(both["排名"]) == {1}

    store = TrackingStore(f"sqlite:///{tmp_path / 't.sqlite'}")
    first = table.iloc[0]
    store.add(first["专利号"], first["企业/需求编号"], user="editor")
    marked = mark_tracked(table, store.pair_status())
    assert marked["跟踪状态"].iloc[0] == "待推送" and (marked["跟踪状态"].iloc[1:] == "").all()
    assert (table["跟踪状态"] == "").all()  # the cached table is not changed
    assert len(filter_pairs(marked, BatchFilter(hide_tracked=True))) == len(table) - 1


def test_stale_when_the_index_changed_after_the_run(capped_run, demo_index, config, demo_patents):
    manifest = load_batch(capped_run).manifest
    matcher = Matcher.load(demo_index, config)
    assert stale_reasons(manifest, index_info(matcher)) == []
    edited = demo_patents.head(1).copy()
    edited["abstract"] = edited["abstract"] + "（摘要已修订）"
    matcher.index(Kind.PATENT, edited)  # same ids, one text replaced
    assert stale_reasons(manifest, index_info(matcher)) == ["专利记录已更新"]
    matcher.delete(Kind.ENTERPRISE, ["DEMO-D-001"])
    assert stale_reasons(manifest, index_info(matcher)) == ["专利记录已更新", "企业/需求 40 条 → 39 条"]


def test_csv_only_run_reads_like_parquet(loaded, tmp_path):
    NightlyJob(loaded, k=3, formats=("parquet",)).run(tmp_path / "pq")
    NightlyJob(loaded, k=3, formats=("csv",)).run(tmp_path / "csv")
    for direction in (P2E, E2P):
        a = pair_table(load_batch(tmp_path / "pq" / "matches"), direction)
        b = pair_table(load_batch(tmp_path / "csv" / "matches"), direction)
        pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_unreadable_runs_are_clear_errors(capped_run, tmp_path):
    assert load_batch(tmp_path / "nothing") is None
    folder = tmp_path / "matches"
    shutil.copytree(capped_run, folder)
    manifest = json.loads((folder / "run_manifest.json").read_text(encoding="utf-8"))

    (folder / "run_manifest.json").write_text("{ not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"run_manifest\.json.*not a readable run manifest.*matcher match"):
        load_batch(folder)

    (folder / "run_manifest.json").write_text(json.dumps({**manifest, "added_by_a_newer_version": 1}), encoding="utf-8")
    assert load_batch(folder).manifest.run_key == manifest["run_key"]  # unknown fields are ignored

    (folder / "patent_to_enterprise.parquet").unlink()  # listed but gone: the CSV is read instead
    pd.read_csv(folder / "patent_to_enterprise.csv", dtype=str).drop(columns=["score"]).to_csv(
        folder / "patent_to_enterprise.csv", index=False)
    with pytest.raises(InputError, match=r"patent_to_enterprise\.csv, column 'score': not a match export"):
        load_batch(folder)

    (folder / "patent_to_enterprise.csv").unlink()
    with pytest.raises(InputError, match=r"matches: the export files the run lists are missing: patent_to_enterprise\.parquet, "
                                         r"patent_to_enterprise\.csv"):
        load_batch(folder)

    (folder / "run_manifest.json").write_text(json.dumps({**manifest, "files": ["enterprise_to_patent.xlsx"]}), encoding="utf-8")
    with pytest.raises(InputError, match=r"no parquet or csv export for enterprise_to_patent.*--formats csv,parquet"):
        load_batch(folder)


def test_a_run_of_an_older_version_without_engine_rank_or_activity(capped_run, tmp_path):
    folder = tmp_path / "matches"
    shutil.copytree(capped_run, folder)
    for stem in ("patent_to_enterprise", "enterprise_to_patent"):
        old = pd.read_parquet(folder / f"{stem}.parquet").drop(columns=["engine_rank", "activity"])
        old.to_parquet(folder / f"{stem}.parquet", index=False)
    manifest = json.loads((folder / "run_manifest.json").read_text(encoding="utf-8"))
    for key in ("max_per_target", "exposure"):
        manifest.pop(key)
    (folder / "run_manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    batch = load_batch(folder)
    table = pair_table(batch, P2E)
    assert table["引擎排名"].tolist() == table["排名"].tolist() and (table["专利活跃度"] == "").all()
    assert "专利 → 企业（每个专利的企业清单）：600 对；未设出现次数上限" in run_summary(batch.manifest)


def test_the_summary_says_when_shortlisted_pairs_were_left_out(capped_run):
    manifest = load_batch(capped_run).manifest
    assert not any("已排除" in line for line in run_summary(manifest))
    manifest.excluded_pairs = 3
    assert "已排除推送清单中已有的 3 对，清单只含尚未处理的组合" in run_summary(manifest)
