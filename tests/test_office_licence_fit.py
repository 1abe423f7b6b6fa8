"""Licence-mode fit: cooperation modes and budget against licence mode and price; 先免费后有偿 eligibility."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from matcher.office.licence_fit import (GOOD, MISMATCH, TALK, cooperation_modes, fit_columns, free_first, licence_fit, mode_fit,
                                        money_fit)


def test_cooperation_modes_are_read_from_the_demand_cell():
    assert cooperation_modes("技术转让,技术许可,委托开发") == ("技术转让", "技术许可", "委托开发")
    assert cooperation_modes("其他") == () and cooperation_modes(None) == ()


def test_mode_fit():
    assert mode_fit("技术许可", "开放许可")[0] == GOOD
    assert mode_fit("技术转让", "开放许可")[0] == MISMATCH  # a transfer wanted, a licence offered
    assert mode_fit("委托开发", "普通")[0] == TALK
    assert mode_fit("技术许可", "")[0] == TALK  # the patent's mode not set: to be discussed
    assert mode_fit("", "开放许可")[0] is None


def test_money_fit_reads_amounts_in_ten_thousands():
    assert money_fit("20万元", "8万元") == (GOOD, "价格 8万元 ≤ 预算 20万元")
    assert money_fit("10万元", "1.5亿元")[0] == MISMATCH
    assert money_fit("面议", "8万元")[0] == TALK
    assert money_fit("", "") == (None, "")


def test_small_and_young_enterprises_may_get_free_first():
    today = date(2026, 12, 1)
    assert free_first({"size": "小型"}, today) == "小型企业"
    assert free_first({"capital": "300(万元人民币)"}, today) == "注册资本 300 万元"
    assert free_first({"registered": "2023-05-10", "capital": "5000万元"}, today) == "成立不满 5 年"
    assert free_first({"size": "中型", "capital": "5000万元", "registered": "2001-06-25"}, today) == ""


def test_the_card_line_joins_fit_terms_and_free_first():
    demand = {"cooperation": "技术许可,技术转让", "budget": "20万元", "size": "小型"}
    fit = licence_fit(demand, {"license_mode": "开放许可", "price": "8万元"})
    assert fit.level == GOOD and fit.value == 1.0
    assert fit.line() == "许可匹配：契合｜需求 技术转让、技术许可 ↔ 专利 开放许可｜价格 8万元 ≤ 预算 20万元｜可享先免费后有偿（小型企业）"
    # an exclusive licence is no free-first offer, and a price over budget is the weaker side
    fit = licence_fit(demand, {"license_mode": "独占", "price": "50万元"})
    assert fit.level == MISMATCH and "先免费" not in fit.line()


def test_the_registration_date_is_read_from_the_input_and_flags_young_firms(tmp_path):
    """注册日期 / 成立日期 (any enterprise file, and the registry loader) become `registered`, which the flag reads."""
    from matcher.ingest import load_records, load_registry_companies

    path = tmp_path / "firms.csv"
    pd.DataFrame([{"企业名称": "新锐科技有限公司", "经营范围": "传感器研发", "成立日期": "2024年3月1日", "注册资本": "3000万元"},
                  {"企业名称": "老牌机械有限公司", "经营范围": "机床制造", "成立日期": "1998-06-01", "注册资本": "3000万元"}]
                 ).assign(id=["E1", "E2"]).to_csv(path, index=False)
    records = load_records(path, "enterprise").frame.to_dict("records")
    assert [r["registered"] for r in records] == ["2024年3月1日", "1998-06-01"]
    today = date(2026, 12, 1)
    assert [free_first(r, today) for r in records] == ["成立不满 5 年", ""]
    registry = tmp_path / "registry.csv"
    pd.DataFrame([{"企业名称": "新锐科技有限公司", "经营范围": "传感器研发", "注册日期": "2023-05-10", "注册资金": "100(万元人民币)",
                   "所在省份": "江苏"}]).to_csv(registry, index=False)
    firm = load_registry_companies(registry).frame.iloc[0].to_dict()
    assert firm["registered"] == "2023-05-10"
    assert free_first(firm, today) == "注册资本 100 万元、成立不满 5 年"


def test_the_columns_of_many_pairs_are_each_pairs_own_fit():
    demo = Path(__file__).resolve().parent.parent / "data" / "demo"
    enterprises = pd.read_csv(demo / "enterprises.csv", dtype=str, keep_default_na=False).to_dict("records")
    patents = pd.read_csv(demo / "patents.csv", dtype=str, keep_default_na=False).to_dict("records")
    enterprises += [{"id": "R-1", "capital": "300万人民币", "registered": "2024-03-01"},
                    {"id": "R-2", "capital": "300万人民币", "size": "微型"}, {"id": "R-3", "capital": "30000(万元人民币)"}]
    patents += [{"id": "P-open", "license_mode": "开放许可", "price": "5万元"}, {"id": "P-none"}]
    by_e, by_p = {e["id"]: e for e in enterprises}, {p["id"]: p for p in patents}
    pairs = pd.DataFrame([(e, p) for e in [*by_e, "GONE"] for p in [*by_p, "GONE"]], columns=["enterprise_id", "patent_id"])
    today = date(2026, 12, 7)
    out = fit_columns(pairs, by_e, by_p, today=today)
    fits = [licence_fit(by_e.get(e, {}), by_p.get(p, {}), today) for e, p in zip(pairs["enterprise_id"], pairs["patent_id"])]
    assert out["licence_line"].tolist() == [f.line() for f in fits]
    assert out["free_first"].tolist() == [f.free_first for f in fits]
    assert set(out["licence_fit"]) >= {"契合", "不符", "未知"} and len(out) == len(pairs)
    assert "成立不满 5 年" in out.loc[(out["enterprise_id"] == "R-1") & (out["patent_id"] == "P-open"), "free_first"].item()
    assert fit_columns(pairs.iloc[:0], by_e, by_p)["licence_line"].tolist() == []
