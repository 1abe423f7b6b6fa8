"""The sector model: GB/T 4754 门类 and 大类 predicted from a record's text (two calibrated text classifiers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.errors import MatcherError
from matcher.sectors.classifier import TextClassifier

DIVISION_SEP = "——"
"""Joins 门类 and 大类 in the division model's labels (制造业——医药制造业), as the zhibei market writes them."""


@dataclass
class SectorModel:
    """门类 classifier plus an optional 大类 classifier whose labels are "门类——大类".

    Attributes:
        section: predicts the 门类.
        division: predicts "门类——大类" (None: 大类 are not predicted).
    """

    section: TextClassifier
    division: TextClassifier | None = None

    def predict(self, tokens: Sequence[Sequence[str]]) -> pd.DataFrame:
        """门类 and 大类 of each text with their calibrated probabilities.

        The 大类 is the most probable one under the predicted 门类 (its own probability is its confidence); ""
        when the division model knows no 大类 of that 门类.

        Args:
            tokens: token lists (TextClassifier.tokens).

        Returns:
            Columns section, section_confidence, division, division_confidence; one row per text.
        """
        sections, section_conf = self.section.predict(tokens)
        divisions, division_conf = [""] * len(sections), np.zeros(len(sections))
        if self.division is not None and len(sections):
            proba = self.division.predict_proba(tokens)
            heads = np.asarray([c.split(DIVISION_SEP)[0] for c in self.division.classes])
            for i, section in enumerate(sections):
                allowed = np.flatnonzero(heads == section)
                if len(allowed):
                    best = allowed[proba[i, allowed].argmax()]
                    divisions[i] = self.division.classes[best].split(DIVISION_SEP, 1)[1]
                    division_conf[i] = proba[i, best]
        return pd.DataFrame({"section": sections, "section_confidence": section_conf,
                             "division": divisions, "division_confidence": division_conf})

    def save(self, directory: str | Path) -> Path:
        """Write both classifiers under `directory` (section/, division/)."""
        directory = Path(directory)
        self.section.save(directory / "section")
        if self.division is not None:
            self.division.save(directory / "division")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> SectorModel:
        """Read a model written by `save`.

        Raises:
            MatcherError: no sector model at `directory`.
        """
        directory = Path(directory)
        if not (directory / "section").is_dir():
            raise MatcherError(f"no sector model at {directory}: train it with `matcher grade`")
        division = TextClassifier.load(directory / "division") if (directory / "division").is_dir() else None
        return cls(TextClassifier.load(directory / "section"), division)
