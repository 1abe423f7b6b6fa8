"""Canonical record schemas for the two sides of the market: patents and enterprises / demands.

Every reader and source adapter produces a DataFrame with these column names; everything downstream
(text, index, rank, export, app) relies only on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum


class Kind(str, Enum):
    """Which side of the market a record belongs to."""

    PATENT = "patent"
    ENTERPRISE = "enterprise"


class Direction(StrEnum):
    """A matching direction: which side the query comes from and which side is ranked.

    The value ("enterprise->patent", ...) is what exports, manifests and configuration files store.
    """

    ENTERPRISE_TO_PATENT = "enterprise->patent"
    PATENT_TO_ENTERPRISE = "patent->enterprise"
    TEXT_TO_PATENT = "text->patent"
    TEXT_TO_ENTERPRISE = "text->enterprise"

    @property
    def source(self) -> Kind | None:
        """The kind of the query records (None: free text)."""
        side = self.value.split("->")[0]
        return None if side == "text" else Kind(side)

    @property
    def target(self) -> Kind:
        """The kind of the ranked records."""
        return Kind(self.value.split("->")[1])

    @property
    def stem(self) -> str:
        """The file name stem of the direction's export ("enterprise->patent" -> "enterprise_to_patent")."""
        return self.value.replace("->", "_to_")


# The directions between stored records: the nightly job ranks these, one list per stored record.
RECORD_DIRECTIONS = (Direction.ENTERPRISE_TO_PATENT, Direction.PATENT_TO_ENTERPRISE)


@dataclass(frozen=True)
class RecordSchema:
    """Column contract for one kind of record.

    Attributes:
        kind: the side of the market.
        required: columns every row must have (non-empty).
        optional: columns that may be missing or empty; used for filters and display.
        text_fields: required columns joined (in order) into the text that is segmented and embedded.
        aliases: accepted alternative header names (Chinese or common English) for each canonical column.
    """

    kind: Kind
    required: tuple[str, ...]
    optional: tuple[str, ...]
    text_fields: tuple[str, ...]
    aliases: dict[str, tuple[str, ...]]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


PATENT_SCHEMA = RecordSchema(
    kind=Kind.PATENT,
    required=("id", "title", "abstract"),
    optional=(
        "applicant",
        "applicant_type",
        "ipc",
        "industry",
        "region",
        "grant_date",
        "legal_status",
        "license_mode",
        "price",
        "maturity",
        "inventor",
        "contact",
        "phone",
        "email",
        "filing_date",
        "patent_type",
        "sector",
        "scenes",
        "prospect",
    ),
    text_fields=("title", "abstract"),
    aliases={
        "id": ("专利号", "申请号", "公开号", "编号", "patent_id"),
        "title": ("名称", "专利名称", "标题", "发明名称", "name"),
        "abstract": ("摘要", "专利摘要", "text", "summary"),
        "applicant": ("申请人", "专利权人"),
        "applicant_type": ("申请人类型",),
        "ipc": ("IPC", "分类号", "主分类号"),
        "industry": ("行业", "产业", "产业领域", "技术领域"),
        "region": ("地区", "省份", "所在地区"),
        "grant_date": ("授权日", "授权日期"),
        "legal_status": ("法律状态",),
        "license_mode": ("许可方式", "许可模式"),
        "price": ("价格", "转让价格", "许可费"),
        "maturity": ("成熟度", "技术成熟度"),
        # contacts (optional; on cards, detail pages and exports; hidden from viewers when configured: docs/workbench.md)
        "inventor": ("发明人", "发明人团队", "团队"),
        "contact": ("团队联系人", "联系人"),
        "phone": ("联系电话", "电话", "手机"),
        "email": ("邮箱", "电子邮箱", "电子邮件", "e-mail"),
        # the office's grading inputs (matcher.grading, docs/office.md): 申请日, 专利类型 (发明 / 实用新型 / 外观设计),
        # GB/T 4754 国民经济行业 (门类 or 门类——大类), the university's own 应用场景 and 产业化前景 score (0-100)
        "filing_date": ("申请日", "申请日期"),
        "patent_type": ("专利类型", "专利种类"),
        "sector": ("国民经济行业", "行业分类", "行业门类"),
        "scenes": ("应用场景",),
        "prospect": ("产业化前景", "产业化前景评分"),
    },
)

ENTERPRISE_SCHEMA = RecordSchema(
    kind=Kind.ENTERPRISE,
    required=("id", "name", "text"),
    optional=("industry", "region", "size", "capital", "registered", "budget", "cooperation", "contact", "phone",
              "email"),
    text_fields=("name", "text"),
    aliases={
        "id": ("编号", "企业编号", "需求编号", "统一社会信用代码", "enterprise_id"),
        "name": ("企业名称", "需求名称", "名称", "title"),
        "text": ("需求描述", "经营范围", "描述", "context", "description"),
        "industry": ("行业", "所属行业", "classification"),
        "region": ("地区", "所在省份", "省份"),
        "size": ("规模", "企业规模"),
        "capital": ("注册资本", "注册资金", "registered_capital"),
        # the registration date: a firm registered within 5 years may be offered 先免费后有偿 (matcher.office.licence_fit)
        "registered": ("注册日期", "成立日期", "registration_date"),
        "budget": ("预算",),
        "cooperation": ("合作方式", "cooperationMethod"),
        "contact": ("联系人", "企业联系人"),
        "phone": ("联系电话", "电话", "手机"),
        "email": ("邮箱", "电子邮箱", "电子邮件", "e-mail"),
    },
)

SCHEMAS: dict[Kind, RecordSchema] = {Kind.PATENT: PATENT_SCHEMA, Kind.ENTERPRISE: ENTERPRISE_SCHEMA}


def schema_for(kind: Kind | str) -> RecordSchema:
    """Return the schema of a record kind ("patent" or "enterprise")."""
    return SCHEMAS[Kind(kind)]


def record_text(row: dict, kind: Kind | str) -> str:
    """Join a record's text fields into the text that is segmented and embedded.

    Args:
        row: a mapping with the canonical columns.
        kind: the record kind.

    Returns:
        The text fields joined with the Chinese full stop, empty parts skipped.
    """
    parts = [str(row.get(f) or "").strip() for f in schema_for(kind).text_fields]
    return "。".join(p for p in parts if p)
