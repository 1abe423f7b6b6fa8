"""jieba segmentation with patent-boilerplate stopwords and a domain user dictionary."""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jieba

from matcher.config import default
from matcher.text.interning import one_object_each
from matcher.text.normalize import normalize

# A token is kept when it has at least one CJK character, letter or digit.
_CONTENT = re.compile(r"[\u4e00-\u9fff\w]")
_PURE_NUMBER = re.compile(r"^[\d.,%]+$")
SEGMENT_MODES = ("search", "accurate")
POOL_MIN_TEXTS = 20_000
"""`Segmenter.tokens_many` segments at least this many texts in a process per core (fewer: in this process)."""
_POOL_CHUNK = 2_000
_WORKER: Segmenter | None = None  # the segmenter a forked worker process uses (set before the fork)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def _segment_chunk(job: tuple[list[str], str | None]) -> list[list[str]]:
    """In a worker process: segment one chunk of texts with the forked segmenter (each distinct term one object, so
    that pickle sends it once)."""
    texts, mode = job
    return one_object_each((_WORKER.tokens(t, mode) for t in texts), {})


def _resource(name: str) -> Path:
    return Path(str(resources.files("matcher.text") / "resources" / name))


@lru_cache(maxsize=8)
def load_wordlist(path: str) -> frozenset[str]:
    """Read a one-word-per-line list ('#' comments and blank lines ignored).

    Args:
        path: the file to read (UTF-8).

    Returns:
        The words, normalised the same way as the texts they are compared with.
    """
    words = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.add(normalize(line))
    return frozenset(words)


class Segmenter:
    """Turns Chinese (and mixed) text into index terms for BM25 and key-term explanations.

    Args:
        mode: (default: MatcherConfig.segment_mode) "search" (jieba's search mode: words plus their in-vocabulary sub-words, e.g. 锂离子电池
            -> 锂离子, 离子, 电池, 锂离子电池; better recall for short keyword needs) or "accurate"
            (one segmentation).
        stopwords: a stopword file; defaults to the bundled patent/business-scope list.
        userdict: a jieba user dictionary; defaults to the bundled domain dictionary.
        drop_numbers: drop tokens that are only digits and punctuation.
    """

    def __init__(
        self,
        mode: str = default("segment_mode"),
        *,
        stopwords: str | Path | None = None,
        userdict: str | Path | None = None,
        drop_numbers: bool = True,
    ) -> None:
        if mode not in SEGMENT_MODES:
            raise ValueError(f"segment mode must be one of {SEGMENT_MODES}, got {mode!r}")
        self.mode = mode
        self.drop_numbers = drop_numbers
        self.stopwords_path = str(stopwords or _resource("stopwords.txt"))
        self.userdict_path = str(userdict or _resource("userdict.txt"))
        self.stopwords = load_wordlist(self.stopwords_path)
        self._jieba = jieba.Tokenizer()
        self._jieba.tmp_dir = tempfile.gettempdir()
        jieba.setLogLevel(logging.WARNING)
        self._jieba.load_userdict(self.userdict_path)

    @property
    def config(self) -> dict:
        """The parameters that determine the tokens (stored in index manifests)."""
        return {"mode": self.mode, "stopwords": Path(self.stopwords_path).name,
                "userdict": Path(self.userdict_path).name, "drop_numbers": self.drop_numbers}

    def _keep(self, token: str) -> bool:
        if not token or token in self.stopwords or not _CONTENT.search(token):
            return False
        return not (self.drop_numbers and _PURE_NUMBER.match(token))

    def tokens(self, text: str, mode: str | None = None) -> list[str]:
        """Segment one text into index terms.

        Args:
            text: raw text; it is normalised first (half-width, lower case).
            mode: "search" or "accurate" for this call (default: the segmenter's mode). Documents are
                indexed in search mode (words plus sub-words); a query segmented in accurate mode then
                matches both a document's whole words and its sub-words.

        Returns:
            Terms in text order, stopwords and punctuation removed; repeated terms are kept
            (BM25 needs term frequencies).
        """
        text = normalize(text)
        if (mode or self.mode) == "search":
            raw = self._jieba.cut_for_search(text, HMM=True)
        else:
            raw = self._jieba.cut(text, HMM=True)
        return [t for t in (tok.strip() for tok in raw) if self._keep(t)]

    def tokens_many(self, texts: Sequence[str], mode: str | None = None, *, processes: int | None = None,
                    pool_min: int = POOL_MIN_TEXTS) -> list[list[str]]:
        """Segment many texts: `tokens` of each, in order; at least `pool_min` texts are shared among worker
        processes (one per core, forked with this segmenter's dictionary), which gives the same tokens.

        Args:
            texts: the texts.
            mode: as in `tokens`.
            processes: worker processes (default: the cores this process may use); 1 segments in this process.
            pool_min: the fewest texts worth starting the workers for.

        Returns:
            One term list per text.
        """
        global _WORKER
        texts = list(texts)
        workers = min(processes or _cores(), len(texts))
        terms: dict[str, str] = {}
        if workers < 2 or len(texts) < pool_min or "fork" not in multiprocessing.get_all_start_methods():
            return one_object_each((self.tokens(t, mode) for t in texts), terms)
        chunk = min(_POOL_CHUNK, -(-len(texts) // workers))
        _WORKER = self
        out: list[list[str]] = []
        try:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                jobs = [(texts[i : i + chunk], mode) for i in range(0, len(texts), chunk)]
                for part in pool.imap(_segment_chunk, jobs):  # in order; each chunk's objects let go as it is merged
                    out.extend(one_object_each(part, terms))
        finally:
            _WORKER = None
        return out
