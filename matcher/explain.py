"""Why a pair matched: component scores, shared key terms, the closest patent sentence and held patent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from matcher.encode import Encoder
from matcher.text.sentences import split_sentences


@dataclass
class Explanation:
    """The evidence behind one patent <-> enterprise pair.

    Attributes:
        shared_terms: key terms found in both texts, most specific (highest IDF) first.
        closest_sentence: the patent sentence closest in meaning to the enterprise / query text.
        sentence_similarity: cosine similarity of that sentence to the other text.
        held_patent: title of the enterprise's own patent closest to the pair's patent ("" when the enterprise
            holds none, or none more similar than the configured portfolio floor; see matcher.index.portfolio).
        held_similarity: cosine similarity of that held patent to the pair's patent.
    """

    shared_terms: list[str]
    closest_sentence: str
    sentence_similarity: float
    held_patent: str = ""
    held_similarity: float = 0.0


def shared_key_terms(
    query_terms: Sequence[str], doc_terms: Sequence[str], idf: Mapping[str, float], limit: int = 8, min_chars: int = 2
) -> list[str]:
    """Terms present in both texts, ranked by IDF, without terms contained in a longer chosen term.

    Args:
        query_terms: terms of one side.
        doc_terms: terms of the other side.
        idf: term -> IDF in the ranked collection (unknown terms rank last).
        limit: how many terms to return.
        min_chars: shorter terms (single characters such as 混, 共) are not shown as evidence.

    Returns:
        Up to `limit` shared terms, most informative first.
    """
    common = {t for t in set(query_terms) & set(doc_terms) if len(t) >= min_chars}
    ranked = sorted(common, key=lambda t: (-idf.get(t, 0.0), -len(t), t))
    chosen: list[str] = []
    for term in ranked:
        if any(term in c for c in chosen):
            continue
        chosen.append(term)
        if len(chosen) == limit:
            break
    return chosen


class SentenceLocator:
    """Finds, for a patent text and a vector of the other side, the patent sentence closest to it.

    Sentences are embedded with the engine's (cached) encoder, so each patent's sentences are
    embedded once and reused across runs.

    Args:
        encoder: the encoder used for the collection vectors.
    """

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    def closest(self, patent_texts: Sequence[str], other_vectors: np.ndarray) -> list[tuple[str, float]]:
        """For each (patent text, other-side vector) pair, the closest patent sentence.

        Args:
            patent_texts: patent texts (title and abstract).
            other_vectors: (n, dim) L2-normalised vectors of the enterprise / query side.

        Returns:
            (sentence, cosine similarity) per pair; ("", 0.0) for an empty text.
        """
        split = [split_sentences(t) for t in patent_texts]
        unique = sorted({s for sents in split for s in sents})
        if not unique:
            return [("", 0.0)] * len(split)
        vecs = self.encoder.encode(unique)
        pos = {s: i for i, s in enumerate(unique)}
        out = []
        for sents, vec in zip(split, other_vectors):
            if not sents:
                out.append(("", 0.0))
                continue
            sims = vecs[[pos[s] for s in sents]] @ vec
            best = int(np.argmax(sims))
            out.append((sents[best], float(sims[best])))
        return out
