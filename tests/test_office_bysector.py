"""`matcher match --by-sector`: one push list per sector (or per industry chain), files named by it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from matcher.engine import Matcher
from matcher.office.sectors import sector_table
from matcher.schema import Kind
from pipelines.main import app

ROOT = Path(__file__).resolve().parent.parent


def test_match_by_sector_and_by_chain_writes_one_list_each(demo_index, tmp_path):
    run = CliRunner()
    result = run.invoke(app, ["match", "--index-dir", str(demo_index), "--out", str(tmp_path), "-k", "3",
                              "--formats", "parquet,csv", "--by-sector"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "push lists by sector in" in result.output
    matcher = Matcher.load(demo_index)
    patents = matcher.collection(Kind.PATENT).records
    sectors = set(sector_table(patents, Kind.PATENT, index_dir=demo_index)["section"])
    files = sorted((tmp_path / "by_sector").glob("*.xlsx"))
    assert {f.stem for f in files} <= sectors and len(files) >= 1
    export = pd.read_parquet(tmp_path / "matches" / "patent_to_enterprise.parquet")
    total = 0
    for f in files:
        book = pd.read_excel(f, sheet_name=None)
        assert list(book)[0] == "封面" and "专利→企业" in book
        assert set(book["专利→企业"]["sector"]) == {f.stem}
        total += len(book["专利→企业"])
        assert (tmp_path / "by_sector" / f"{f.stem}.csv").is_file()
    assert total == len(export)  # every pair in exactly one sector list
    chains = run.invoke(app, ["match", "--index-dir", str(demo_index), "--out", str(tmp_path), "-k", "3", "--formats",
                              "parquet", "--chains", str(ROOT / "config" / "chains.example.toml")], env={"COLUMNS": "200"})
    assert chains.exit_code == 0, chains.output
    names = {f.stem for f in (tmp_path / "by_sector").glob("*.xlsx")}
    assert "新材料" in names and names.isdisjoint(sectors - {"新材料"})
    bad = run.invoke(app, ["match", "--index-dir", str(demo_index), "--out", str(tmp_path), "--chains",
                           str(tmp_path / "missing.toml")])
    assert bad.exit_code == 2 and "missing.toml" in bad.output
