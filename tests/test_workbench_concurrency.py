"""One officer's long encode never holds up another's (the shared engine's embedding cache; issue 25, item 3)."""

from __future__ import annotations

import threading

import numpy as np

from matcher.encode.cache import CachedEncoder


class _Gate:
    """An inner encoder whose encode of a text starting with "slow" waits until released."""

    model_id = "gate-test"
    dim = 4

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def encode(self, texts, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:  # noqa: ARG002
        if any(t.startswith("slow") for t in texts):
            self.entered.set()
            assert self.release.wait(30), "never released"
        out = np.ones((len(texts), self.dim), dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_a_long_encode_does_not_block_other_sessions(tmp_path):
    gate = _Gate()
    cache = CachedEncoder(gate, tmp_path)
    cache.encode(["已缓存的专利句子"])
    slow = threading.Thread(target=cache.encode, args=(["slow: a 200,000-character paste"],))
    slow.start()
    assert gate.entered.wait(10)
    done = threading.Event()
    other = threading.Thread(target=lambda: (cache.encode(["已缓存的专利句子", "另一位经理人的新需求"]), done.set()))
    other.start()
    # the second session's encode (a cached text and a new short one) finishes while the long one is still running
    assert done.wait(10), "the second encode waited for the first"
    gate.release.set()
    slow.join(10)
    other.join(10)
    assert cache.cached_count() == 3
