"""Training pairs (anchor, positive) for the contrastive encoder, from the shared data or any user corpus.

Every text is passed through `dense_text` (the same normalisation and boilerplate removal the engine
applies before embedding), so the encoder is trained on exactly what it will see at query time.

Sources (`shared_pairs`), each a named group so that batches can be drawn from one group at a time:

- ``patent_title``: patent title <-> abstract (bdci_patents).
- ``applicant_patent``: applicant company name <-> patent, for company applicants (the name carries the
  trade words, e.g. 新材料 / 电子科技, that bridge business scopes and patent language).
- ``company_patent``: registered company profile (name + 经营范围) <-> a patent it filed, through the
  exact applicant <-> 企业名称 link.
- ``offer`` / ``demand``: Zhibei offer or demand name <-> text.
- ``offer_class``: the GB/T 4754 classification and industry label of an offer <-> the offer (trade words <->
  technology words).
- ``csl``: CSL paper title <-> abstract and keywords <-> abstract.
- ``company_name`` / ``scope_item``: registry name <-> 经营范围, and one scope item <-> the whole profile.

On a user's own corpus (`index_pairs`, `matcher train --from-index`): ``patent_title``, ``company_name`` and
``scope_item`` from its records (`corpus_pairs`), and ``company_patent`` for every enterprise that holds one of its
patents (the engine's applicant link, `matcher.index.portfolio`).

KPPatent is never used: its abstracts and keyphrases are the kw2p-dev benchmark itself.

Which company <-> patent labels may be trained on (`training_exclusions`): only those of the dev benchmarks'
companies (c2p-dev queries, p2c-dev answers). Every other registered company that filed a patent in the shared
patents is a possible answer of a held-out benchmark, so it is left out of every company-derived group (its
links, its name and scope). For an honest dev number the dev companies are split into folds by a hash of the
name (`company_fold`); a model trained with `holdout_fold=k` never sees the companies of fold k, and is scored
on the dev queries of that fold only (`fold_query_ids`).
"""

from __future__ import annotations

import json
import random
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from matcher.index.portfolio import Portfolio
from matcher.text.boilerplate import embedding_text
from matcher.text.items import split_items
from matcher.text.normalize import SCOPE_PREFIX, company_key

# scope items are separated by Chinese/ASCII list punctuation
# items that carry no technology ("销售", "货物进出口", ...) are short or purely commercial
_COMMERCIAL = re.compile(r"^(?:销售|批发|零售|生产|加工|制造|经营|代理|咨询|服务|货物进出口|技术进出口|进出口|及|和|等)+$")

DEV_BENCHMARKS = ("c2p-dev", "p2c-dev", "kw2p-dev")


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


@dataclass
class BenchmarkExclusions:
    """Company <-> patent labels that must never be trained on.

    Attributes:
        companies: company names (left out of every company-derived pair group).
        patent_ids: patent ids whose link to a company is a label being measured (never paired with their
            applicant).
    """

    companies: set[str] = field(default_factory=set)
    patent_ids: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.companies)


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _qrels(path: Path) -> list[tuple[str, str]]:
    frame = pd.read_csv(path, sep="\t", dtype=str)
    frame = frame[pd.to_numeric(frame["score"], errors="coerce").fillna(0) > 0]
    return list(zip(frame["query-id"], frame["corpus-id"]))


def company_name_of(profile: str) -> str:
    """The company name at the head of a profile text "NAME。经营范围：...".

    Args:
        profile: a company profile as the benchmarks write it.

    Returns:
        The name (the text before the first "。"), stripped.
    """
    return profile.split("。", 1)[0].strip()


def benchmark_exclusions(benchmark_dirs: Iterable[str | Path]) -> BenchmarkExclusions:
    """Collect the companies and patents that the dev benchmarks query or judge.

    Folders are recognised by name: c2p-* (queries are company profiles, answers patents) and p2c-*
    (queries are patents, answers company profiles whose title is the name). Other folders, and folders
    that do not exist, are skipped.

    Args:
        benchmark_dirs: BEIR folders.

    Returns:
        The exclusion sets.
    """
    out = BenchmarkExclusions()
    for folder in map(Path, benchmark_dirs):
        if not (folder / "queries.jsonl").is_file():
            continue
        name = folder.name.lower()
        if name.startswith("c2p"):
            for query in _jsonl(folder / "queries.jsonl"):
                out.companies.add(company_key(company_name_of(str(query.get("text", "")))))
            out.patent_ids.update(doc for _, doc in _qrels(folder / "qrels" / "test.tsv"))
        elif name.startswith("p2c"):
            titles = {str(d["_id"]): str(d.get("title") or "") for d in _jsonl(folder / "corpus.jsonl")}
            for query_id, doc in _qrels(folder / "qrels" / "test.tsv"):
                out.patent_ids.add(query_id)
                if titles.get(doc):
                    out.companies.add(company_key(titles[doc]))
    out.companies.discard("")
    return out


def dev_companies(shared_dir: str | Path) -> set[str]:
    """The company keys that the dev benchmarks (`DEV_BENCHMARKS` under shared_dir/benchmarks) query or judge."""
    return benchmark_exclusions(Path(shared_dir) / "benchmarks" / name for name in DEV_BENCHMARKS).companies


def company_fold(name: str, folds: int) -> int:
    """The cross-validation fold of a company (a stable hash of its name, the same on every machine).

    Args:
        name: the company name.
        folds: number of folds (>= 2).

    Returns:
        0 .. folds - 1.
    """
    return zlib.crc32(company_key(name).encode("utf-8")) % folds


def is_company_benchmark(folder: str | Path) -> bool:
    """Whether a BEIR folder judges company <-> patent links (c2p-*, p2c-*): the labels trained on."""
    return Path(folder).name.lower().startswith(("c2p", "p2c"))


def fold_query_ids(folder: str | Path, fold: int, folds: int) -> set[str] | None:
    """The queries of a c2p-* or p2c-* benchmark whose company falls in `fold`.

    Args:
        folder: the BEIR folder (c2p: the query is the company; p2c: the judged answer is).
        fold: the fold.
        folds: number of folds.

    Returns:
        Query ids; None for benchmarks without a company side (kw2p-*).
    """
    folder = Path(folder)
    name = folder.name.lower()
    if not is_company_benchmark(folder):
        return None
    if name.startswith("c2p"):
        return {
            str(q["_id"]) for q in _jsonl(folder / "queries.jsonl")
            if company_fold(company_name_of(str(q.get("text", ""))), folds) == fold
        }
    titles = {str(d["_id"]): str(d.get("title") or "") for d in _jsonl(folder / "corpus.jsonl")}
    return {query for query, doc in _qrels(folder / "qrels" / "test.tsv") if company_fold(titles.get(doc, ""), folds) == fold}


def training_exclusions(
    shared_dir: str | Path, *, holdout_fold: int | None = None, folds: int = 2
) -> BenchmarkExclusions:
    """The companies and patents whose company <-> patent link must not be trained on.

    These are every registered company (companies_20k) that filed one of the shared patents, except the
    dev benchmarks' companies outside `holdout_fold`; and the patents those companies filed.

    Args:
        shared_dir: the folder with data/ and benchmarks/.
        holdout_fold: the fold of dev companies to hold out too (None: train on every dev company).
        folds: number of folds.

    Returns:
        The exclusion sets.
    """
    shared = Path(shared_dir)
    dev = dev_companies(shared)
    trainable = {c for c in dev if holdout_fold is None or company_fold(c, folds) != holdout_fold}
    registry = pd.read_csv(shared / "data" / "registry" / "companies_20k.csv", dtype=str, usecols=["企业名称"])
    registered = set(registry["企业名称"].fillna("").map(company_key))
    patents = pd.read_csv(shared / "data" / "bdci_patents" / "patents.csv", dtype=str, usecols=["id", "applicant"])
    applicants = patents["applicant"].fillna("").map(company_key)
    labelled = (set(applicants) & registered) | dev
    excluded = labelled - trainable
    excluded.discard("")
    return BenchmarkExclusions(companies=excluded, patent_ids=set(patents.loc[applicants.isin(excluded), "id"]))


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


def _add(out: list[Pair], anchor: str, positive: str, source: str, min_chars: int = 2) -> None:
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
                _add(out, dense_text(title), patent_text("", abstract), prefix + "patent_title")
    if enterprises is not None and len(enterprises):
        for name, text in zip(enterprises["name"].fillna(""), enterprises["text"].fillna("")):
            name, text = str(name).strip(), str(text).strip()
            if not text or company_key(name) in exclude_companies:
                continue
            scope = text.removeprefix(SCOPE_PREFIX)
            _add(out, dense_text(name), dense_text(scope), prefix + "company_name")
            items = scope_items(scope)
            for item in rng.sample(items, min(items_per_company, len(items))):
                _add(out, item, company_profile(name, scope), prefix + "scope_item")
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
            _add(out, profile, patent_text(patents.at[row, "title"], patents.at[row, "abstract"]), "company_patent")
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


# ---- the shared data ----
def _read_jsonl_frame(path: Path) -> pd.DataFrame:
    return pd.DataFrame(_jsonl(path)).fillna("")


def shared_pairs(
    shared_dir: str | Path,
    *,
    exclusions: BenchmarkExclusions | None = None,
    holdout_fold: int | None = None,
    folds: int = 2,
    seed: int = 0,
    registry_sample: int = 40_000,
    items_per_company: int = 2,
    sources: Sequence[str] | None = None,
) -> list[Pair]:
    """Build every training pair group from the shared data folder.

    Args:
        shared_dir: the folder with data/ and benchmarks/.
        exclusions: companies / patents to leave out; None: `training_exclusions(shared_dir, holdout_fold,
            folds)`.
        holdout_fold: dev-company fold left out (see `training_exclusions`).
        folds: number of folds.
        seed: sampling seed (registry sample, scope items).
        registry_sample: companies taken from tech_companies_200k.parquet (0: none) in addition to
            companies_20k.csv.
        items_per_company: scope items per registry company.
        sources: keep only these groups (None: all).

    Returns:
        The pairs, in a deterministic order.
    """
    shared = Path(shared_dir)
    data = shared / "data"
    if exclusions is None:
        exclusions = training_exclusions(shared, holdout_fold=holdout_fold, folds=folds)
    bad_companies = exclusions.companies
    rng = random.Random(seed)
    out: list[Pair] = []

    # registry: name -> scope (20k + a sample of the 200k)
    registry = pd.read_csv(data / "registry" / "companies_20k.csv", dtype=str).fillna("")
    scopes = dict(zip(registry["企业名称"].map(company_key), registry["经营范围"]))
    big_path = data / "registry" / "tech_companies_200k.parquet"
    if registry_sample and big_path.is_file():
        big = pd.read_parquet(big_path, columns=["企业名称", "经营范围"]).fillna("")
        big = big.sample(n=min(registry_sample, len(big)), random_state=seed)
        registry = pd.concat([registry[["企业名称", "经营范围"]], big], ignore_index=True)
    registry = registry.drop_duplicates("企业名称")
    out += corpus_pairs(
        enterprises=pd.DataFrame({"name": registry["企业名称"], "text": registry["经营范围"]}),
        seed=seed, items_per_company=items_per_company, exclude_companies=bad_companies,
    )

    # patents: title <-> abstract, applicant name <-> patent, registered profile <-> patent
    patents = pd.read_csv(data / "bdci_patents" / "patents.csv", dtype=str).fillna("")
    out += corpus_pairs(patents=patents, seed=seed)
    for row in patents.itertuples(index=False):
        applicant = row.applicant.strip()
        key = company_key(applicant)
        if row.applicant_type != "company" or key in bad_companies or row.id in exclusions.patent_ids:
            continue
        text = patent_text(row.title, row.abstract)
        _add(out, dense_text(applicant), text, "applicant_patent")
        if scopes.get(key, "").strip():
            _add(out, company_profile(applicant, scopes[key]), text, "company_patent")

    # zhibei offers and demands
    zhibei = data / "zhibei"
    if (zhibei / "offers.jsonl").is_file():
        offers = _read_jsonl_frame(zhibei / "offers.jsonl")
        for row in offers.itertuples(index=False):
            text = patent_text(row.name, row.context)
            _add(out, dense_text(row.name), dense_text(row.context), "offer")
            label = "。".join(
                part for part in (str(row.classification).replace("——", "、"), str(row.industry).replace("-", "、"))
                if part.strip()
            )
            _add(out, dense_text(label), text, "offer_class")
    if (zhibei / "demands.jsonl").is_file():
        demands = _read_jsonl_frame(zhibei / "demands.jsonl")
        for row in demands.itertuples(index=False):
            _add(out, dense_text(row.name), dense_text(row.context), "demand")

    # CSL papers
    csl_dir = data / "csl"
    for path in sorted(csl_dir.glob("csl_benchmark_*_joined.csv")):
        papers = pd.read_csv(path, dtype=str).fillna("")
        for row in papers.itertuples(index=False):
            abstract = dense_text(row.abstract)
            _add(out, dense_text(row.title), abstract, "csl")
            keywords = " ".join(k for k in row.keywords.split("_") if k.strip())
            _add(out, dense_text(keywords), abstract, "csl")
    tsv = csl_dir / "sswdxl_zh_csl_camera_readly_subset.tsv"
    if tsv.is_file():
        with tsv.open(encoding="utf-8") as handle:
            for line in handle:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 2:
                    _add(out, dense_text(parts[0]), dense_text(parts[1]), "csl")

    if sources is not None:
        keep = set(sources)
        out = [p for p in out if p.source in keep]
    rng.shuffle(out)  # deterministic for a seed; the trainer groups by source anyway
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
