"""A static (embedding-bag) sentence encoder with a tokenizer trained locally, saved as a sentence-transformers model."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import json
import math
import unicodedata
from collections import Counter

import numpy as np
import torch

UNK = "<unk>"
"""The unknown-piece token (id 0)."""


def train_tokenizer(
    texts: Iterable[str], *, vocab_size: int = 30_000, max_piece_length: int = 6, rescore_texts: int = 20_000
):
    """Train a Unigram tokenizer on Chinese / mixed text with `tokenizers` (no download).

    Chinese has no spaces, so pieces are learned inside runs of characters; punctuation and whitespace
    split runs, digits are kept as separate runs. Text is NFKC-normalised and lower-cased.

    Args:
        texts: the training texts (any iterable; consumed once).
        vocab_size: target vocabulary size (raised to the number of distinct characters plus 100 when that
            is larger; the trainer may return fewer pieces on a small corpus).
        max_piece_length: longest piece in characters.
        rescore_texts: the first this many texts give the final piece scores.

    Returns:
        A `tokenizers.Tokenizer`: the pieces chosen by `tokenizers`' UnigramTrainer, scored by
        `_rescore` and ordered by score, so the same texts in the same order give the same tokenizer.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    texts = list(_strings(texts))
    # Unigram needs every character in the vocabulary: grow it on corpora with many distinct characters
    chars = {ch for text in texts for ch in unicodedata.normalize("NFKC", text).lower() if not ch.isspace()}
    vocab_size = max(int(vocab_size), len(chars) + 100)
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(behavior="removed"), pre_tokenizers.Digits()]
    )
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=[UNK],
        unk_token=UNK,
        max_piece_length=max_piece_length,
        shrinking_factor=0.75,
        n_sub_iterations=2,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    # The trainer's piece set is stable, but its EM scores vary in the last digits between runs (it sums
    # over hash maps), which can change segmentations: re-score the pieces deterministically.
    pieces = [piece for piece, _ in json.loads(tokenizer.to_str())["model"]["vocab"] if piece != UNK]
    tokenizer.model = models.Unigram(_rescore(pieces, texts[:rescore_texts], max_piece_length), unk_id=0)
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def _rescore(pieces: list[str], texts: list[str], max_len: int) -> list[tuple[str, float]]:
    """Deterministic Unigram scores: log relative frequency of each piece as a substring of the texts.

    Longer pieces are rarer than their parts but replace several of them, so Viterbi segmentation with
    these scores prefers the longest known pieces (close to forward maximum matching).

    Args:
        pieces: the vocabulary (without the unknown token).
        texts: sample texts.
        max_len: longest piece.

    Returns:
        [(UNK, lowest score), (piece, score), ...], pieces sorted by score then by text.
    """
    known = set(pieces)
    counts = Counter()
    for text in texts:
        text = unicodedata.normalize("NFKC", text).lower()
        for size in range(1, max_len + 1):
            counts.update(gram for gram in (text[i : i + size] for i in range(len(text) - size + 1)) if gram in known)
    total = float(sum(counts.values()) + len(known))
    scored = sorted(((piece, round(math.log((counts[piece] + 1) / total), 6)) for piece in known),
                    key=lambda item: (-item[1], item[0]))
    lowest = scored[-1][1] if scored else 0.0
    return [(UNK, lowest - 10.0), *scored]


def _strings(texts: Iterable[str]) -> Iterator[str]:
    for text in texts:
        if text:
            yield text


def init_weights(vocab_size: int, dim: int, seed: int) -> torch.Tensor:
    """Seeded random initial embedding table, N(0, 1/dim).

    Args:
        vocab_size: rows.
        dim: columns.
        seed: RNG seed.

    Returns:
        float32 (vocab_size, dim).
    """
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randn(vocab_size, dim, generator=generator) / np.sqrt(dim)


def build_model(tokenizer, weights: torch.Tensor | np.ndarray):
    """Wrap a tokenizer and an embedding table into a SentenceTransformer (StaticEmbedding + Normalize).

    Args:
        tokenizer: the `tokenizers.Tokenizer`.
        weights: (vocab_size, dim) embedding table.

    Returns:
        The SentenceTransformer on CPU; save it with `.save(path)` and load it with
        `matcher.encode.load_encoder(path)`.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    if isinstance(weights, np.ndarray):
        weights = torch.from_numpy(np.ascontiguousarray(weights, dtype=np.float32))
    static = StaticEmbedding(tokenizer, embedding_weights=weights.detach().to(torch.float32).clone())
    return SentenceTransformer(modules=[static, Normalize()], device="cpu")
