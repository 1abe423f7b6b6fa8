"""A small labelled market for the grading tests: offers with maturity and 门类——大类, demands with 门类."""

from __future__ import annotations

import json
from pathlib import Path

MATURITY_WORDS = {
    "正在研发": "实验室 机理 探索 初步 理论",
    "通过小试": "小试 配方 验证 烧杯 样本",
    "已有样品": "样品 原型 演示 样机 试制",
    "可以量产": "量产 生产线 批量 订单 产能",
}
SECTOR_WORDS = {
    "制造业——医药制造业": "药物 制剂 胶囊 药效",
    "农、林、牧、渔业——农业": "种植 品种 水稻 育苗",
    "信息传输、软件和信息技术服务业——软件和信息技术服务业": "软件 平台 算法 数据库",
}


def write_labelled(folder: Path, repeats: int = 3) -> tuple[Path, Path]:
    """offers.jsonl (4 maturities x 3 sectors x `repeats`) and demands.jsonl (3 门类 x 4) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    offers, n = [], 0
    for maturity, mwords in MATURITY_WORDS.items():
        for sector, swords in SECTOR_WORDS.items():
            for r in range(repeats):
                offers.append({"id": f"T{n:03d}", "name": f"{swords.split()[r % 4]}技术{n}",
                               "classification": sector, "maturity": maturity, "zlxx": "发明专利",
                               "context": f"本项目{swords}，目前{mwords}，编号{n}。"})
                n += 1
    demands = [{"id": f"D{i:03d}", "name": f"{words.split()[i % 4]}需求{i}", "classification": sector.split("——")[0],
                "context": f"企业需要{words}相关技术{i}。"} for i, (sector, words) in enumerate(list(SECTOR_WORDS.items()) * 4)]
    paths = folder / "offers.jsonl", folder / "demands.jsonl"
    for path, rows in zip(paths, (offers, demands)):
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return paths
