"""A build's segmentation and encoding on Ray Data (`map_batches`), giving the same tokens and vectors as in-process."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from matcher.config import MatcherConfig
from matcher.distributed.cluster import connect
from matcher.encode import Encoder, load_encoder
from matcher.engine import Matcher
from matcher.ingest import LoadResult
from matcher.schema import record_text
from matcher.text.segment import Segmenter

BATCH_TEXTS = 256


class _EncodeBatch:
    """A Ray Data worker: loads the encoder once, encodes each batch's texts."""

    def __init__(self, spec: str) -> None:
        self.encoder = load_encoder(spec)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        vectors = self.encoder.encode(batch["text"].tolist(), batch_size=len(batch))
        return pd.DataFrame({"pos": batch["pos"].to_numpy(), "vector": list(vectors)})


class _SegmentBatch:
    """A Ray Data worker: builds the segmenter once, segments each batch's texts."""

    def __init__(self, config: dict) -> None:
        self.segmenter = Segmenter(config["mode"], drop_numbers=config["drop_numbers"])

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"pos": batch["pos"].to_numpy(), "tokens": [self.segmenter.tokens(t) for t in batch["text"]]})


def _map(texts: Sequence[str], worker: type, argument: object, address: str | None) -> pd.DataFrame:
    """Run `worker(argument)` over the texts in batches on Ray Data; its output rows in the texts' order."""
    ray = connect(address)
    frame = pd.DataFrame({"pos": np.arange(len(texts)), "text": list(texts)})
    dataset = ray.data.from_pandas(frame).repartition(max(1, -(-len(texts) // BATCH_TEXTS)))
    mapped = dataset.map_batches(worker, fn_constructor_args=(argument,), batch_size=BATCH_TEXTS,
                                 batch_format="pandas", concurrency=(1, max(1, int(ray.cluster_resources().get("CPU", 1)))))
    out = mapped.to_pandas()
    return out.sort_values("pos").reset_index(drop=True)


class RayEncoder:
    """An Encoder whose texts are encoded by Ray Data workers, each loading the same model (`spec`).

    The model id and dimension are those of the model loaded here, so the disk cache and the index manifests see
    the same encoder as without Ray; wrapped in the cache (`Matcher` does), only uncached texts travel.

    Args:
        spec: the encoder spec (`matcher.encode.load_encoder`); every worker must find it at the same path.
        address: the Ray cluster's address (None: a local instance).
    """

    def __init__(self, spec: str, *, address: str | None = None) -> None:
        self.spec = str(spec)
        self.address = address
        local: Encoder = load_encoder(self.spec)
        self.model_id, self.dim = local.model_id, local.dim

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """Vectors of the texts, computed on Ray (rows in the texts' order; shape (0, dim) for none)."""
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        out = _map(texts, _EncodeBatch, self.spec, self.address)
        return np.stack(out["vector"].to_list()).astype(np.float32)


class RaySegmenter(Segmenter):
    """A Segmenter whose record texts are segmented ahead on Ray Data workers (`presegment`); other texts and
    other modes are segmented here, so the tokens are the same as without Ray.

    Args:
        mode: the segmentation mode (the configuration's).
        address: the Ray cluster's address (None: a local instance).
    """

    def __init__(self, mode: str, *, address: str | None = None) -> None:
        super().__init__(mode)
        self.address = address
        self._done: dict[str, list[str]] = {}

    def presegment(self, texts: Sequence[str]) -> None:
        """Segment the texts on Ray now (in this segmenter's mode); `tokens` then returns them."""
        todo = sorted(set(texts) - self._done.keys())
        if todo:
            out = _map(todo, _SegmentBatch, self.config, self.address)
            self._done.update(zip(todo, (list(t) for t in out["tokens"])))

    def tokens(self, text: str, mode: str | None = None) -> list[str]:
        """The tokens of a text: presegmented ones when asked in this segmenter's mode, else segmented here."""
        if (mode is None or mode == self.mode) and text in self._done:
            return list(self._done[text])
        return super().tokens(text, mode)


def ray_matcher(config: MatcherConfig, loaded: Sequence[LoadResult], *, address: str | None = None) -> Matcher:
    """A Matcher whose build segments and encodes on Ray: the inputs' record texts are segmented ahead on Ray
    Data, and every text the cache lacks is encoded there; the index it builds equals the in-process one.

    Args:
        config: the build's settings.
        loaded: the inputs about to be indexed.
        address: the Ray cluster's address (None: a local instance).

    Returns:
        The Matcher to index the inputs with.
    """
    segmenter = RaySegmenter(config.segment_mode, address=address)
    segmenter.presegment([record_text(r, result.kind) for result in loaded for r in result.frame.to_dict("records")])
    return Matcher(config, encoder=RayEncoder(str(config.encoder), address=address), segmenter=segmenter)
