"""Sectors (matcher.sectors): GB/T 4754 labels, the IPC concordance, assign_sectors' evidence and confidence, and the
industry chains TOML (config/chains.example.toml)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from labelled_fixture import write_labelled

from matcher.errors import InputError
from matcher.grading import train_models
from matcher.grading.labelled import labelled_demands, labelled_offers
from matcher.sectors import SECTOR_COLUMNS, assign_sectors, ipc_sector, load_chains, parse_sector, section_code
from matcher.sectors.gbt4754 import find_sections

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "chains.example.toml"


@pytest.fixture(scope="module")
def sector_model(tmp_path_factory):
    offers, demands = write_labelled(tmp_path_factory.mktemp("labelled"))
    return train_models(pd.concat([labelled_offers(offers), labelled_demands(demands)], ignore_index=True)).sectors


def test_labels_are_read_as_section_and_division():
    assert parse_sector("制造业——计算机、通信和其他电子设备制造") == ("制造业", "计算机、通信和其他电子设备制造")
    # the market writes 燃气、及水; the standard 燃气及水
    assert parse_sector("电力、热力、燃气、及水生产和供应业——水的生产和供应业")[0] == "电力、热力、燃气及水生产和供应业"
    assert parse_sector("制造业") == ("制造业", "")
    assert parse_sector("制造业建筑业") == ("", "")  # several 门类 run together teach nothing
    assert find_sections("制造业建筑业") == ["制造业", "建筑业"]
    assert parse_sector("新材料-膜材料") == ("", "") and parse_sector("") == ("", "")
    assert section_code("制造业") == "C" and section_code("信息传输、软件和信息技术服务业") == "I"


def test_ipc_concordance_takes_the_longest_prefix():
    assert ipc_sector("A61B 5/00") == ("制造业", "专用设备制造业")
    assert ipc_sector("A61K 36/898; A61P 1/00") == ("制造业", "医药制造业")
    assert ipc_sector("h01m4/525") == ("制造业", "电气机械和器材制造业")
    assert ipc_sector("") == ("", "") and ipc_sector("Z99") == ("", "")


def test_assign_sectors_names_its_evidence(sector_model):
    patents = pd.DataFrame([
        {"id": "A", "title": "药物", "abstract": "制剂", "sector": "制造业——医药制造业", "ipc": "G06F"},
        {"id": "B", "title": "电池", "abstract": "正极", "ipc": "H01M 4/525"},
        {"id": "C", "title": "软件 平台", "abstract": "算法 数据库 软件 平台"},
        {"id": "D", "title": "一种东西", "abstract": "没有线索"},
    ])
    found = assign_sectors(patents, sector_model).set_index("id")
    assert list(found.reset_index().columns) == list(SECTOR_COLUMNS)
    assert found.loc["A", "section_source"] == "输入标注" and found.loc["A", "division"] == "医药制造业"
    assert found.loc["A", "section_confidence"] == 1.0
    assert found.loc["B", "section_source"] == "IPC对照表 H01M" and found.loc["B", "division"] == "电气机械和器材制造业"
    assert found.loc["C", "section"] == "信息传输、软件和信息技术服务业" and found.loc["C", "section_source"] == "模型估计"
    assert 0 < found.loc["C", "section_confidence"] <= 1 and found.loc["C", "section_code"] == "I"
    without_model = assign_sectors(patents).set_index("id")
    assert without_model.loc["D", "section"] == "" and without_model.loc["D", "section_source"] == "无"


def test_demands_take_their_classification_from_industry(sector_model):
    demands = pd.DataFrame([{"id": "E1", "name": "需求", "text": "种植 品种", "industry": "农、林、牧、渔业"},
                            {"id": "E2", "name": "药物 制剂", "text": "胶囊 药效", "industry": ""}])
    found = assign_sectors(demands, sector_model, kind="enterprise").set_index("id")
    assert found.loc["E1", "section"] == "农、林、牧、渔业" and found.loc["E1", "section_source"] == "输入标注"
    assert found.loc["E1", "division"] == "农业" and found.loc["E1", "division_source"] == "模型估计"
    assert found.loc["E2", "section"] == "制造业"


def test_example_chains_group_records():
    chains = load_chains(EXAMPLE)
    assert 3 <= len(chains) <= 5 and {"新能源", "生物医药"} <= {c.name for c in chains}
    patents = pd.DataFrame([
        {"id": "P1", "title": "一种锂电池正极", "abstract": "储能用锂离子电池", "ipc": "H01M 4/525", "industry": ""},
        {"id": "P2", "title": "一种茶叶", "abstract": "绿茶加工", "ipc": "", "industry": ""},
    ])
    found = assign_sectors(patents, chains=chains).set_index("id")
    assert "新能源" in found.loc["P1", "chains"] and "IPC H01M" in found.loc["P1", "chain_reasons"]
    assert found.loc["P2", "chains"] == ""


@pytest.mark.parametrize(("text", "message"), [
    ("[[chain]]\nsections = []\n", "has no name"),
    ("[[chain]]\nname = \"x\"\nipc = \"H01M\"\n", "ipc must be a list"),
    ("name = \"x\"\n", "no [[chain]]"),
    ("[[chain]\n", "not valid TOML"),
])
def test_bad_chains_files_are_clear_errors(tmp_path, text, message):
    path = tmp_path / "chains.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(message)) as caught:
        load_chains(path)
    assert "chains.toml" in str(caught.value)
