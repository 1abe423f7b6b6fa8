"""The Encoder protocol (texts -> L2-normalised vectors) and the input check every encoder shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from matcher.errors import MatcherError


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors.

    Attributes:
        model_id: stable identifier of the model; two encoders with the same id give the same vectors
            (it keys the embedding cache and is stored with indexes).
        dim: vector dimension.
    """

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """Embed texts.

        Args:
            texts: the texts, in order.
            batch_size: texts per model call.
            show_progress: show a progress bar.

        Returns:
            float32 array of shape (len(texts), dim) whose rows have norm 1; shape (0, dim) for no texts. A new
            array on every call: the caller may keep it (an index takes a build's vectors as they are).
        """
        ...


def check_texts(texts: Sequence[str]) -> list[str]:
    """Validate encoder input.

    Args:
        texts: what the caller passed as texts.

    Returns:
        The texts as a list.

    Raises:
        MatcherError: `texts` is a single string, or an item is not a string (e.g. a NaN from an
            empty spreadsheet cell).
    """
    if isinstance(texts, str):
        raise MatcherError("encode() expects a list of texts, got a single string; wrap it in a list")
    items = list(texts)
    for position, text in enumerate(items):
        if not isinstance(text, str):
            raise MatcherError(
                f"text #{position} to encode is a {type(text).__name__} ({text!r}), not a string; "
                "fill or drop empty cells before encoding"
            )
    return items
