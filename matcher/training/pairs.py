"""Training pairs (anchor, positive) for the contrastive encoder, from any corpus of canonical records.

Every text is passed through `dense_text` (the same normalisation and boilerplate removal the engine
applies before embedding), so the encoder is trained on exactly what it will see at query time.

Each pair belongs to a named group so that batches can be drawn from one group at a time. On a user's own corpus
(`index_pairs`, `matcher train --from-index`): ``patent_title`` (title <-> abstract), ``company_name`` (name <->
scope) and ``scope_item`` (one scope item <-> the profile) from its records (`corpus_pairs`), and
``company_patent`` for every enterprise that holds one of its patents (the engine's applicant link,
`matcher.index.portfolio`). The pairs of the shared research data are built in `matcher.lab.training`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from matcher.index.portfolio import Portfolio
from matcher.text.boilerplate import embedding_text
from matcher.text.items import split_items
from matcher.text.normalize import SCOPE_PREFIX, company_key

# scope items are separated by Chinese/ASCII list punctuation
# items that carry no technology ("销售", "货物进出口", ...) are short or purely commercial
_COMMERCIAL = re.compile(r"^(?:销售|批发|零售|生产|加工|制造|经营|代理|咨询|服务|货物进出口|技术进出口|进出口|及|和|等)+$")

dense_text = embedding_text  # the text the engine embeds (see Matcher.dense_text)


@dataclass(frozen=True)
class Pair:
    """One positive training pair.

    Attributes:
        anchor: the query-side text.
        positive: the text that should be close to it.
        source: the group the pair belongs to (batches never mix groups).
    """

    anchor: str
    positive: str
    source: str


def scope_items(scope: str, *, min_chars: int = 3) -> list[str]:
    """Split a business scope into its trade items, dropping purely commercial ones.

    Args:
        scope: a 经营范围 text.
        min_chars: shortest item kept.

    Returns:
        The items in order, de-duplicated.
    """
    return [item for item in split_items(scope, min_chars=min_chars, max_items=10_000) if not _COMMERCIAL.match(item)]


def company_profile(name: str, scope: str) -> str:
    """A company profile in the form the engine embeds ("NAME。经营范围：SCOPE", then cleaned)."""
    return dense_text(f"{name}。{SCOPE_PREFIX}{scope}" if scope else name)


def patent_text(title: str, abstract: str) -> str:
    """A patent in the form the engine embeds ("TITLE。ABSTRACT", then cleaned)."""
    return dense_text("。".join(p for p in (str(title or "").strip(), str(abstract or "").strip()) if p))


def add_pair(out: list[Pair], anchor: str, positive: str, source: str, min_chars: int = 2) -> None:
    """Append (anchor, positive) to out unless either side is shorter than min_chars or both are the same."""
    anchor, positive = anchor.strip(), positive.strip()
    if len(anchor) >= min_chars and len(positive) >= min_chars and anchor != positive:
        out.append(Pair(anchor, positive, source))


# ---- user corpora (self-supervised) ----
def corpus_pairs(
    patents: pd.DataFrame | None = None,
    enterprises: pd.DataFrame | None = None,
    *,
    seed: int = 0,
    items_per_company: int = 2,
    exclude_companies: set[str] = frozenset(),
    prefix: str = "",
) -> list[Pair]:
    """Self-supervised pairs from canonical records (any user corpus, no labels needed).

    Args:
        patents: patent records with `title` and `abstract` (canonical schema).
        enterprises: enterprise records with `name` and `text` (a demand or a business scope).
        seed: chooses the scope items.
        items_per_company: scope items paired with each profile.
        exclude_companies: names never used (compared by `company_key`).
        prefix: prepended to the source names (to tell corpora apart).

    Returns:
        Pairs: title <-> title+abstract ("patent_title"), name <-> profile ("company_name"), scope item <->
        profile ("scope_item").
    """
    rng = random.Random(seed)
    out: list[Pair] = []
    if patents is not None and len(patents):
        for title, abstract in zip(patents["title"].fillna(""), patents["abstract"].fillna("")):
            if str(abstract).strip():
                add_pair(out, dense_text(title), patent_text("", abstract), prefix + "patent_title")
    if enterprises is not None and len(enterprises):
        for name, text in zip(enterprises["name"].fillna(""), enterprises["text"].fillna("")):
            name, text = str(name).strip(), str(text).strip()
            if not text or company_key(name) in exclude_companies:
                continue
            scope = text.removeprefix(SCOPE_PREFIX)
            add_pair(out, dense_text(name), dense_text(scope), prefix + "company_name")
            items = scope_items(scope)
            for item in rng.sample(items, min(items_per_company, len(items))):
                add_pair(out, item, company_profile(name, scope), prefix + "scope_item")
    return out


def held_pairs(patents: pd.DataFrame, enterprises: pd.DataFrame) -> list[Pair]:
    """Enterprise profile <-> each patent it holds ("company_patent"), through the engine's applicant link.

    Args:
        patents: patent records (canonical schema, with `applicant`), indexed by row.
        enterprises: enterprise records (`name`, `text`), indexed by row.
    """
    link = Portfolio.link(patents, enterprises)
    out: list[Pair] = []
    for ent in link.holders:
        name, text = str(enterprises.at[ent, "name"]), str(enterprises.at[ent, "text"])
        profile = company_profile(name, text.removeprefix(SCOPE_PREFIX))
        for row in link.patents_of(ent):
            add_pair(out, profile, patent_text(patents.at[row, "title"], patents.at[row, "abstract"]), "company_patent")
    return out


def index_pairs(patents: pd.DataFrame | None, enterprises: pd.DataFrame | None, *, seed: int = 0) -> list[Pair]:
    """Self-supervised pairs from a user's own records, plus the enterprises' held patents.

    Args:
        patents: the indexed patents (None or empty: none).
        enterprises: the indexed enterprises / demands (None or empty: none).
        seed: chooses the scope items.
    """
    out = corpus_pairs(patents, enterprises, seed=seed)
    if patents is not None and enterprises is not None and len(patents) and len(enterprises):
        out += held_pairs(patents, enterprises)
    return out


def summarize(pairs: Sequence[Pair]) -> dict[str, int]:
    """Pairs per source group.

    Args:
        pairs: the pairs.

    Returns:
        {source: count}, sorted by source name.
    """
    counts: dict[str, int] = {}
    for pair in pairs:
        counts[pair.source] = counts.get(pair.source, 0) + 1
    return dict(sorted(counts.items()))
