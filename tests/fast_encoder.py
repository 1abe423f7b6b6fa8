"""A fast, deterministic stand-in for USE-m3 in tests: a tiny sentence-transformers static model.

It is a real model directory (StaticEmbedding over a Unigram tokenizer trained on the demo texts, seeded random
piece vectors, unit-normalised), loaded through the same `matcher.encode.load_encoder` path as any local model, so
the engine, the CLI, the nightly job and the workbench run unchanged. Its cosine is a random projection of the texts'
shared word pieces: lexical similarity, not meaning. Tests that need USE-m3's semantics use the `use_m3_config`
fixture instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

DIM = 64
VOCAB = 4_000


def save_fast_encoder(path: Path, texts: Iterable[str], *, seed: int = 0) -> Path:
    """Train the tokenizer on `texts` and save the static model at `path`.

    Args:
        path: the model directory to write.
        texts: the texts its word pieces are learned from (the demo records).
        seed: seed of the piece vectors.

    Returns:
        `path`, loadable with `matcher.encode.load_encoder(path)`.
    """
    from matcher.training.model import build_model, init_weights, train_tokenizer

    tokenizer = train_tokenizer(texts, vocab_size=VOCAB, rescore_texts=2_000)
    model = build_model(tokenizer, init_weights(tokenizer.get_vocab_size(), DIM, seed))
    model.save(str(path))
    return path
