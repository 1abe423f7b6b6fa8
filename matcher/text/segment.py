"""jieba segmentation with patent-boilerplate stopwords and a domain user dictionary."""

from __future__ import annotations

import logging
import re
import tempfile
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jieba

from matcher.config import default
from matcher.text.normalize import normalize

# A token is kept when it has at least one CJK character, letter or digit.
_CONTENT = re.compile(r"[\u4e00-\u9fff\w]")
_PURE_NUMBER = re.compile(r"^[\d.,%]+$")
SEGMENT_MODES = ("search", "accurate")


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
