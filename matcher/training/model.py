"""A static (embedding-bag) sentence encoder with a tokenizer trained locally, saved as a sentence-transformers model."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch

UNK = "<unk>"
"""The unknown-piece token (id 0)."""


def train_tokenizer(texts: Iterable[str], *, vocab_size: int = 30_000, max_piece_length: int = 6):
    """Train a Unigram tokenizer on Chinese / mixed text with `tokenizers` (no download).

    Chinese has no spaces, so pieces are learned inside runs of characters; punctuation and whitespace
    split runs, digits are kept as separate runs. Text is NFKC-normalised and lower-cased.

    Args:
        texts: the training texts (any iterable; consumed once).
        vocab_size: target vocabulary size (the trainer may return fewer pieces on a small corpus).
        max_piece_length: longest piece in characters.

    Returns:
        A `tokenizers.Tokenizer`. Training is single-pass and deterministic for the same texts in the same
        order.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

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
    tokenizer.train_from_iterator(_strings(texts), trainer=trainer)
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


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
