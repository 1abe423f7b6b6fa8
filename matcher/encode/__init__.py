"""Encode stage: texts -> L2-normalised vectors (USE-m3, a local sentence-transformers model, or an ensemble), cached on disk."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matcher.encode.base import Encoder, check_texts
from matcher.encode.cache import CACHE_FILE, CachedEncoder, CacheStats, text_hash, with_cache
from matcher.encode.ensemble import EnsembleEncoder, parse_ensemble
from matcher.encode.factory import DEFAULT_ENCODER, load_encoder
from matcher.encode.sentence_transformer import SentenceTransformerEncoder, model_files_hash

if TYPE_CHECKING:
    from matcher.encode.use_module import USE_M3_DIM, USEm3Module

__all__ = [
    "CACHE_FILE",
    "DEFAULT_ENCODER",
    "USE_M3_DIM",
    "CacheStats",
    "CachedEncoder",
    "Encoder",
    "EnsembleEncoder",
    "SentenceTransformerEncoder",
    "USEm3Module",
    "check_texts",
    "load_encoder",
    "model_files_hash",
    "parse_ensemble",
    "text_hash",
    "with_cache",
]


def __getattr__(name: str) -> Any:
    """Import the USE module lazily: it pulls in torch and sentence-transformers (seconds to import).

    Args:
        name: attribute looked up on the package.

    Returns:
        The attribute from `matcher.encode.use_module`.

    Raises:
        AttributeError: the name is not part of the package.
    """
    if name in ("USEm3Module", "USE_M3_DIM"):
        from matcher.encode import use_module

        return getattr(use_module, name)
    raise AttributeError(f"module 'matcher.encode' has no attribute {name!r}")
