"""Encoders backed by sentence-transformers models: the wrapper, model-directory loading and model-file hashing."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from matcher.encode.base import check_texts
from matcher.errors import MatcherError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Module classes outside sentence-transformers that a model directory may reference. Anything else
# in modules.json would make sentence-transformers import (and run) code chosen by the directory.
_TRUSTED_CLASSES = frozenset({"matcher.encode.use_module.USEm3Module"})

# Files that do not change the vectors a model directory computes.
_IGNORED_FILES = frozenset({"README.md"})

_HASH_CHUNK = 1 << 20


class SentenceTransformerEncoder:
    """An Encoder backed by any `SentenceTransformer` model.

    Args:
        model: the model (already on the wanted device).
        model_id: stable identifier of the model; may be omitted only when the model is the USE
            module alone, whose id ("use-m3") is then used.

    Raises:
        ValueError: no model_id was given for a model that has no built-in one.
    """

    def __init__(self, model: SentenceTransformer, model_id: str | None = None) -> None:
        self.model = model
        if model_id is None:
            model_id = _builtin_model_id(model)
        if not model_id:
            raise ValueError(
                "SentenceTransformerEncoder needs a model_id for this model "
                "(use load_encoder(path) to get one derived from the model files)"
            )
        self.model_id: str = model_id
        dim = model.get_embedding_dimension()
        if dim is None:
            dim = int(self._encode(["维度探测"], batch_size=1, show_progress=False).shape[1])
        self.dim: int = int(dim)

    def _encode(self, texts: list[str], *, batch_size: int, show_progress: bool) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """Embed texts with the wrapped model.

        Args:
            texts: the texts, in order.
            batch_size: texts per model forward pass.
            show_progress: show a progress bar.

        Returns:
            float32 array (len(texts), dim), rows L2-normalised (a text the model maps to the zero
            vector, e.g. all out-of-vocabulary tokens in a static model, stays zero).

        Raises:
            MatcherError: a text is not a string.
        """
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._encode(items, batch_size=max(1, int(batch_size)), show_progress=show_progress)
        if vectors.shape != (len(items), self.dim):
            raise MatcherError(
                f"model {self.model_id} returned vectors of shape {vectors.shape} for {len(items)} texts, "
                f"expected ({len(items)}, {self.dim})"
            )
        return vectors

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder(model_id={self.model_id!r}, dim={self.dim})"


def _builtin_model_id(model: SentenceTransformer) -> str | None:
    """Id of a model made of the USE module alone.

    Args:
        model: a SentenceTransformer.

    Returns:
        The USE module's model_id, or None for any other model.
    """
    from matcher.encode.use_module import USEm3Module

    modules = list(model)
    if len(modules) == 1 and isinstance(modules[0], USEm3Module):
        return modules[0].model_id
    return None


def load_model_directory(path: Path, text: str) -> SentenceTransformerEncoder:
    """Load a local sentence-transformers model directory on CPU, without network access.

    Args:
        path: an existing directory holding modules.json (written by `SentenceTransformer.save`) or a
            Hugging Face config.json.
        text: the spec as the user wrote it (for messages).

    Returns:
        The encoder, with model_id "<dir name>@<12-hex hash of the model files>" (or "use-m3" for a
        saved USE module alone).

    Raises:
        MatcherError: modules.json references module classes that are not part of
            sentence-transformers or this project, or the model fails to load.
    """
    from sentence_transformers import SentenceTransformer

    module_paths: list[str] = []
    needs_trust = False
    if (path / "modules.json").is_file():
        for entry in _read_modules_json(path):
            class_ref = str(entry.get("type", ""))
            if class_ref in _TRUSTED_CLASSES:
                needs_trust = True
            elif not class_ref.startswith("sentence_transformers."):
                raise MatcherError(
                    f"model directory '{text}' uses the module class '{class_ref}', which is neither part of "
                    "sentence-transformers nor of this project; refusing to import code chosen by a model "
                    "directory"
                )
            module_paths.append(str(entry.get("path", "")))

    model_id = f"{path.resolve().name}@{model_files_hash(path, module_paths)}"
    try:
        model = SentenceTransformer(
            str(path),
            device="cpu",
            local_files_only=True,
            trust_remote_code=needs_trust,
        )
    except Exception as exc:  # noqa: BLE001 - any loading failure is a user-facing problem
        raise MatcherError(f"could not load the encoder model in '{text}': {type(exc).__name__}: {exc}") from exc
    builtin = _builtin_model_id(model)
    return SentenceTransformerEncoder(model, model_id=builtin or model_id)


def _read_modules_json(path: Path) -> list[dict[str, Any]]:
    """Parse a model directory's modules.json.

    Args:
        path: the model directory.

    Returns:
        Its module entries.

    Raises:
        MatcherError: the file is not a JSON list of objects.
    """
    try:
        entries = json.loads((path / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MatcherError(f"cannot read {path / 'modules.json'}: {exc}") from exc
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise MatcherError(f"{path / 'modules.json'} is not a list of module entries")
    return entries


def model_files_hash(path: str | os.PathLike[str], module_paths: Sequence[str] = ()) -> str:
    """Short content hash of the files that define a saved model.

    Covers the files in the model root and everything under each module folder listed in
    modules.json (not checkpoints or other folders); README.md, hidden files and __pycache__ are skipped.

    Args:
        path: the model directory.
        module_paths: module folders relative to it ("" for the root).

    Returns:
        The first 12 hex digits of a SHA-256 over the relative paths and contents.
    """
    root = Path(path)
    files = {item for item in root.iterdir() if item.is_file()}
    for sub in module_paths:
        folder = root / sub
        if sub and folder.is_dir():
            files.update(item for item in folder.rglob("*") if item.is_file())
    digest = hashlib.sha256()
    for item in sorted(files, key=lambda file: file.relative_to(root).as_posix()):
        parts = item.relative_to(root).parts
        if item.name in _IGNORED_FILES or any(part.startswith(".") or part == "__pycache__" for part in parts):
            continue
        digest.update(f"{'/'.join(parts)}\0{item.stat().st_size}\0".encode())
        with item.open("rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()[:12]
