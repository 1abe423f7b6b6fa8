"""Adapters that load the real public data sources in ../shared/data as validated records."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from matcher.errors import InputError
from matcher.ingest.readers import read_table
from matcher.ingest.validate import LoadResult, validate_frame
from matcher.schema import Kind

SHARED_DIR_ENV = "MATCHER_SHARED_DIR"

# bdci_patents applicant_type codes (a regex guess made when the file was derived) -> Chinese labels.
APPLICANT_TYPES = {
    "university": "高校",
    "company": "企业",
    "research_institute": "科研院所",
    "individual": "个人",
    "other": "其他",
}

# zhibei offers name licensing as the token 许可转让 inside cooperationMethod (e.g. 完全转让许可转让技术入股);
# the licence type (exclusive, open, ...) is not given, so the source's own wording is kept.
OFFER_LICENSE_MODE = "许可转让"


@dataclass(frozen=True)
class Source:
    """A known public data source.

    Attributes:
        name: registry key, e.g. "bdci_patents".
        kind: which side of the market its records are.
        loader: reads the file at a path into validated records.
        default_path: location relative to `shared_dir()`.
        description: one line for listings.
    """

    name: str
    kind: Kind
    loader: Callable[[Path], LoadResult]
    default_path: str
    description: str


def shared_dir() -> Path:
    """Return the shared data folder: $MATCHER_SHARED_DIR, else <project root>/../shared.

    Returns:
        The folder that holds data/ and benchmarks/ (it may not exist).
    """
    configured = os.environ.get(SHARED_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    project_root = Path(__file__).resolve().parents[2]
    return (project_root.parent / "shared").resolve()


def load_bdci_patents(path: str | Path) -> LoadResult:
    """Load the CCF BDCI 2022 patents (id, title, abstract, applicant, applicant_type).

    `label_id` is a class number without published names, so `industry` stays "".

    Args:
        path: bdci_patents/patents.csv.

    Returns:
        Patent records; applicant_type codes translated to 高校 / 企业 / 科研院所 / 个人 / 其他.
    """
    raw = read_table(path)
    if "applicant_type" in raw.columns:
        codes = raw["applicant_type"].str.strip()
        raw["applicant_type"] = codes.map(lambda code: APPLICANT_TYPES.get(code.lower(), code))
    mapping = {"id": "id", "title": "title", "abstract": "abstract"}
    return validate_frame(raw, Kind.PATENT, file=str(path), mapping=mapping)


def load_zhibei_demands(path: str | Path) -> LoadResult:
    """Load the Zhibei enterprise technology demands (技术需求) as enterprise records.

    Args:
        path: zhibei/demands.jsonl.

    Returns:
        Enterprise records: name, text=context, industry=classification, cooperation=cooperationMethod.
    """
    raw = read_table(path)
    mapping = {"id": "id", "name": "name", "text": "context"}
    mapping.update(_present(raw, {"industry": "classification", "cooperation": "cooperationMethod"}))
    return validate_frame(raw, Kind.ENTERPRISE, file=str(path), mapping=mapping)


def load_zhibei_offers(path: str | Path) -> LoadResult:
    """Load the Zhibei technology offers (科技成果) as patent-side records (the supply side).

    Args:
        path: zhibei/offers.jsonl.

    Returns:
        Patent records: title=name, abstract=context, industry (else classification), maturity, price,
        license_mode = 许可转让 where cooperationMethod mentions 许可, else "", sector=classification (GB/T 4754
        门类——大类), patent_type=zlxx (发明专利 / 实用新型专利 / 非专利技术 ...).
    """
    raw = read_table(path)
    raw["industry"] = _first_non_empty(_column(raw, "industry"), _column(raw, "classification"))
    raw["license_mode"] = _column(raw, "cooperationMethod").map(lambda v: OFFER_LICENSE_MODE if "许可" in v else "")
    mapping = {"id": "id", "title": "name", "abstract": "context", "industry": "industry",
               "license_mode": "license_mode"}
    mapping.update(_present(raw, {"maturity": "maturity", "price": "price", "sector": "classification",
                                  "patent_type": "zlxx"}))
    return validate_frame(raw, Kind.PATENT, file=str(path), mapping=mapping)


def load_registry_companies(path: str | Path) -> LoadResult:
    """Load company registrations (工商注册) as enterprise records.

    Works for companies_20k.csv (has an `id` column) and tech_companies_200k.parquet (no id column: ids
    R000000, R000001, ... are made from the row order).

    Args:
        path: registry/companies_20k.csv or registry/tech_companies_200k.parquet.

    Returns:
        Enterprise records: name=企业名称, text=经营范围, region=所在省份 (else 地区), capital=注册资金 (as
        written; `matcher.text.capital` reads it), registered=注册日期 (a young firm may be offered 先免费后有偿).
    """
    raw = read_table(path)
    if "id" not in raw.columns:
        raw.insert(0, "id", [f"R{i:06d}" for i in range(len(raw))])
    raw["region"] = _first_non_empty(_column(raw, "所在省份"), _column(raw, "地区"))
    mapping = {"id": "id", "name": "企业名称", "text": "经营范围", "region": "region"}
    mapping.update(_present(raw, {"capital": "注册资金", "registered": "注册日期"}))
    return validate_frame(raw, Kind.ENTERPRISE, file=str(path), mapping=mapping)


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source("bdci_patents", Kind.PATENT, load_bdci_patents, "data/bdci_patents/patents.csv",
               "4,097 real Chinese patents (CCF BDCI 2022), 961 from universities"),
        Source("zhibei_demands", Kind.ENTERPRISE, load_zhibei_demands, "data/zhibei/demands.jsonl",
               "enterprise technology demands (技术需求), 2019-2020"),
        Source("zhibei_offers", Kind.PATENT, load_zhibei_offers, "data/zhibei/offers.jsonl",
               "technology offers (科技成果) with maturity, price and licensing mode"),
        Source("registry_companies", Kind.ENTERPRISE, load_registry_companies, "data/registry/companies_20k.csv",
               "20,231 company registrations (CC BY-NC-SA 4.0: evaluation and demos only)"),
        Source("registry_companies_200k", Kind.ENTERPRISE, load_registry_companies,
               "data/registry/tech_companies_200k.parquet",
               "200,000 technology/manufacturing company registrations (CC BY-NC-SA 4.0: evaluation only)"),
    )
}


def load_source(name: str, path: str | Path | None = None) -> LoadResult:
    """Load a known source by name, from `path` or from its default place under `shared_dir()`.

    Args:
        name: a key of SOURCES.
        path: the file to read; the source's default path under the shared folder when None.

    Returns:
        The validated records.

    Raises:
        InputError: unknown source name, or the file is missing or invalid.
    """
    if name not in SOURCES:
        raise InputError(f"unknown data source '{name}'", hint=f"use one of: {', '.join(SOURCES)}")
    source = SOURCES[name]
    target = Path(path) if path is not None else shared_dir() / source.default_path
    if not target.exists():
        where = "given path" if path is not None else f"default path under the shared folder ({shared_dir()})"
        raise InputError(f"data source '{name}' not found at the {where}", file=str(target),
                         hint=f"pass the file's path, or set {SHARED_DIR_ENV} to the folder that holds "
                              f"{source.default_path}")
    return source.loader(target)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """Return a column of an all-string frame, or a column of "" when it is absent."""
    if name in frame.columns:
        return frame[name]
    return pd.Series("", index=frame.index, dtype=str)


def _first_non_empty(primary: pd.Series, fallback: pd.Series) -> pd.Series:
    """Take `primary` where it is not blank, else `fallback`."""
    return primary.where(primary.str.strip().ne(""), fallback)


def _present(frame: pd.DataFrame, wanted: dict[str, str]) -> dict[str, str]:
    """Keep the (canonical -> header) pairs whose header exists in the frame."""
    return {column: header for column, header in wanted.items() if header in frame.columns}
