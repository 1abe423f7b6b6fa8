"""Encoder ensembles: several encoders' vectors, weighted and concatenated into one unit vector.

The cosine of two concatenated vectors is the weighted mean of the parts' cosines, so every dense signal
of the engine (whole-text similarity, best scope items, closest sentence) becomes an ensemble of the
parts without any change to indexes or fusion. On the company benchmarks USE-m3 and a trained in-domain
model err on different pairs; their ensemble beats either alone (docs/evaluation.md).

Spec syntax: parts joined by "+", each an encoder spec (see `load_encoder`) with an optional "*weight"
suffix, e.g. "use-m3+models/patent-static*2".
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from matcher.encode.base import Encoder, check_texts
from matcher.errors import MatcherError

SEPARATOR = "+"
WEIGHT_MARK = "*"
_NORM_BLOCK = 65_536  # rows whose norms are taken together (a bounded temporary)


class EnsembleEncoder:
    """Weighted concatenation of several encoders (an Encoder itself).

    Each part's unit vector is scaled by sqrt(weight / total weight) and the parts are concatenated, so
    the dot product of two ensemble vectors is the weighted mean of the parts' cosines. A row whose
    parts are not all unit vectors (a static model maps an all-out-of-vocabulary text to zero) is
    renormalised; an all-zero row stays zero.

    Args:
        parts: (encoder, weight) pairs, at least two, weights > 0.

    Raises:
        ValueError: fewer than two parts, or a weight that is not a positive finite number.
    """

    def __init__(self, parts: Sequence[tuple[Encoder, float]]) -> None:
        parts = list(parts)
        if len(parts) < 2:
            raise ValueError("an encoder ensemble needs at least two parts")
        for encoder, weight in parts:
            if not (math.isfinite(weight) and weight > 0):
                raise ValueError(f"ensemble weight of {encoder.model_id} must be a positive number, got {weight}")
        self.parts = parts
        total = sum(weight for _, weight in parts)
        self.scales = [math.sqrt(weight / total) for _, weight in parts]
        self.dim: int = sum(int(encoder.dim) for encoder, _ in parts)
        self.model_id: str = SEPARATOR.join(f"{encoder.model_id}{WEIGHT_MARK}{weight:g}" for encoder, weight in parts)

    def map_parts(self, wrap: Callable[[Encoder], Encoder]) -> EnsembleEncoder:
        """The same ensemble with every part replaced by `wrap(part)` (e.g. a per-part embedding cache).

        Args:
            wrap: a function that returns an encoder with the same model_id and dim as its argument.

        Returns:
            A new ensemble.
        """
        return EnsembleEncoder([(wrap(encoder), weight) for encoder, weight in self.parts])

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """`Encoder.encode` by every part (batch_size and show_progress passed on), scaled and concatenated.

        Raises:
            MatcherError: a text is not a string.
        """
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        # one output array, each part scaled into its columns and let go before the next is encoded: a large call
        # (600,000 scope items) holds one part's vectors and the result, not every part, their scaled copies and
        # their concatenation at once
        vectors = np.empty((len(items), self.dim), dtype=np.float32)
        start = 0
        for (encoder, _), scale in zip(self.parts, self.scales):
            part = encoder.encode(items, batch_size=batch_size, show_progress=show_progress)
            np.multiply(part, np.float32(scale), out=vectors[:, start : start + part.shape[1]])
            start += part.shape[1]
            del part
        for block in range(0, len(vectors), _NORM_BLOCK):
            rows = vectors[block : block + _NORM_BLOCK]
            norms = np.linalg.norm(rows, axis=1, keepdims=True)
            uneven = ((np.abs(norms - 1.0) > 1e-4) & (norms > 0))[:, 0]
            if uneven.any():
                rows[uneven] = rows[uneven] / norms[uneven]
        return vectors

    def __repr__(self) -> str:
        return f"EnsembleEncoder(model_id={self.model_id!r}, dim={self.dim})"


def parse_ensemble(spec: str | os.PathLike[str]) -> list[tuple[str, float]] | None:
    """Split an ensemble spec into (part spec, weight) pairs.

    Args:
        spec: an encoder spec. A spec that names an existing path is never split (a directory name may
            contain "+").

    Returns:
        The parts, or None when the spec names a single encoder.

    Raises:
        MatcherError: an empty part or a weight that is not a positive number.
    """
    text = os.fspath(spec).strip()
    if SEPARATOR not in text or Path(text).expanduser().exists():
        return None
    parts = []
    for raw in text.split(SEPARATOR):
        part = raw.strip()
        name, mark, weight_text = part.rpartition(WEIGHT_MARK)
        if not mark:
            name, weight = part, 1.0
        else:
            try:
                weight = float(weight_text)
            except ValueError:
                raise MatcherError(
                    f"encoder ensemble '{text}': weight '{weight_text}' of part '{part}' is not a number "
                    f"(write parts as SPEC or SPEC{WEIGHT_MARK}WEIGHT joined by '{SEPARATOR}', e.g. "
                    f"'use-m3+models/patent-static{WEIGHT_MARK}2')"
                ) from None
            name = name.strip()
        if not name:
            raise MatcherError(f"encoder ensemble '{text}' has an empty part; write SPEC{SEPARATOR}SPEC")
        if not (math.isfinite(weight) and weight > 0):
            raise MatcherError(f"encoder ensemble '{text}': weight of '{name}' must be a positive number, got {weight_text}")
        parts.append((name, weight))
    return parts
