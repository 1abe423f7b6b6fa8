"""Which enterprises already hold which patents: the applicant <-> enterprise-name link between the collections.

An enterprise that has filed patents carries its technology in them, in patent language, which its business
scope rarely uses. The portfolio links a patent's 申请人 / 专利权人 (one or several, separated by ; ， 、) to
the enterprise records of the same name (compared by `company_key`, so full-width and half-width brackets are
one company). The engine uses it to rank with the patents an enterprise holds (the "portfolio" signal), to
explain a match by the closest of them, and to keep a patent from being pushed to the enterprise that owns it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from matcher.text.normalize import company_key

_APPLICANT_SPLIT = re.compile(r"[;；,，、]")
_EMPTY = np.empty(0, dtype=np.int64)

FLOOR_QUANTILE = 0.9
"""A held patent counts as portfolio evidence only above the cosine that this share of random pairs of the indexed
patents stay below (the "portfolio" signal is max(0, cosine - floor); see `chance_similarity`)."""


def applicant_keys(applicant: object) -> list[str]:
    """The company keys of a patent's applicant field (several applicants allowed), empty parts dropped."""
    if applicant is None or (isinstance(applicant, float) and np.isnan(applicant)):
        return []
    return [k for k in (company_key(part) for part in _APPLICANT_SPLIT.split(str(applicant))) if k]


class Portfolio:
    """Patent rows per enterprise row and enterprise rows per patent row, both ways.

    Args:
        owned: (enterprise row, patent row) pairs.
    """

    def __init__(self, owned: Iterable[tuple[int, int]] = ()) -> None:
        by_enterprise: dict[int, list[int]] = {}
        by_patent: dict[int, list[int]] = {}
        for ent, pat in owned:
            by_enterprise.setdefault(int(ent), []).append(int(pat))
            by_patent.setdefault(int(pat), []).append(int(ent))
        self._patents = {e: np.array(sorted(set(p)), dtype=np.int64) for e, p in by_enterprise.items()}
        self._owners = {p: np.array(sorted(set(e)), dtype=np.int64) for p, e in by_patent.items()}

    @classmethod
    def link(cls, patents: pd.DataFrame, enterprises: pd.DataFrame) -> Portfolio:
        """Link patents to the enterprises named as their applicant.

        Args:
            patents: patent records indexed by row id, with an optional "applicant" column.
            enterprises: enterprise records indexed by row id, with a "name" column.

        Returns:
            The portfolio (empty when no applicant names an indexed enterprise).
        """
        if "applicant" not in patents.columns or len(enterprises) == 0:
            return cls()
        rows_by_name: dict[str, list[int]] = {}
        for row, name in zip(enterprises.index, enterprises["name"]):
            key = company_key(name)
            if key:
                rows_by_name.setdefault(key, []).append(int(row))
        pairs = [
            (ent, int(row))
            for row, applicant in zip(patents.index, patents["applicant"])
            for key in applicant_keys(applicant)
            for ent in rows_by_name.get(key, ())
        ]
        return cls(pairs)

    def __len__(self) -> int:
        """Number of enterprises holding at least one indexed patent."""
        return len(self._patents)

    @property
    def holders(self) -> np.ndarray:
        """Enterprise rows that hold at least one indexed patent."""
        return np.array(sorted(self._patents), dtype=np.int64)

    @property
    def held(self) -> np.ndarray:
        """Patent rows held by at least one indexed enterprise."""
        return np.array(sorted(self._owners), dtype=np.int64)

    def patents_of(self, enterprise_row: int) -> np.ndarray:
        """Patent rows an enterprise holds (empty when none)."""
        return self._patents.get(int(enterprise_row), _EMPTY)

    def owners_of(self, patent_row: int) -> np.ndarray:
        """Enterprise rows holding a patent (empty when none is indexed)."""
        return self._owners.get(int(patent_row), _EMPTY)


def chance_similarity(vectors: np.ndarray, quantile: float, *, pairs: int = 20_000, seed: int = 0) -> float:
    """The cosine that `quantile` of random pairs of distinct patents stay below (0.0 for fewer than 2 patents).

    A held patent counts as evidence only above this: how similar two unrelated patents look depends on the encoder
    and on the corpus (template phrasing such as 本发明公开了一种 lifts every cosine), so the floor is read off the
    indexed patents themselves rather than fixed.

    Args:
        vectors: (n, dim) unit vectors of the indexed patents.
        quantile: in [0, 1].
        pairs: random pairs sampled (all pairs when there are fewer).
        seed: seeds the sample.
    """
    n = len(vectors)
    if n < 2:
        return 0.0
    if n * (n - 1) // 2 <= pairs:
        a, b = np.triu_indices(n, 1)
    else:
        rng = np.random.default_rng(seed)
        a, b = rng.integers(0, n, pairs), rng.integers(0, n, pairs)
        a, b = a[a != b], b[a != b]
    return float(np.quantile(np.einsum("ij,ij->i", vectors[a], vectors[b]), quantile))
