"""The grading models (maturity and sectors): trained from labelled offers and demands, saved under models/grading."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from matcher.config import PROJECT_ROOT
from matcher.errors import MatcherError
from matcher.sectors.classifier import TextClassifier
from matcher.sectors.model import DIVISION_SEP, SectorModel

DEFAULT_MODELS = PROJECT_ROOT / "models" / "grading"
"""Where `matcher grade` saves the models and `matcher grade --index` reads them."""
PACKAGED_MODELS = Path(__file__).resolve().parent / "resources"
"""The shipped models (maturity and 门类, no 大类: 1.8 MB), read when DEFAULT_MODELS holds none. Made from ../shared
by `matcher grade --models matcher/grading/resources --no-divisions` (deterministic: fixed seeds)."""
C = 4.0
"""Inverse regularisation of every grading classifier (fixed, not tuned on the held-out split)."""


@dataclass
class GradingModels:
    """The maturity classifier and the sector model.

    Attributes:
        maturity: predicts one of matcher.grading.maturity.LEVELS.
        sectors: predicts GB/T 4754 门类 and 大类.
    """

    maturity: TextClassifier
    sectors: SectorModel

    def save(self, directory: str | Path = DEFAULT_MODELS) -> Path:
        """Write both models under `directory` (maturity/, sectors/)."""
        directory = Path(directory)
        self.maturity.save(directory / "maturity")
        self.sectors.save(directory / "sectors")
        return directory

    @classmethod
    def load(cls, directory: str | Path | None = None) -> GradingModels:
        """Read the models written by `save`.

        Args:
            directory: the model folder; None: DEFAULT_MODELS when it holds models, else the shipped PACKAGED_MODELS.

        Raises:
            MatcherError: no models there (train them with `matcher grade`).
        """
        if directory is None:
            directory = DEFAULT_MODELS if (DEFAULT_MODELS / "maturity").is_dir() else PACKAGED_MODELS
        directory = Path(directory)
        if not (directory / "maturity").is_dir():
            raise MatcherError(f"no grading models at {directory}: train them with `matcher grade`")
        return cls(TextClassifier.load(directory / "maturity"), SectorModel.load(directory / "sectors"))


def fit_maturity(tokens: Sequence[Sequence[str]], labels: Sequence[str], seed: int = 0) -> TextClassifier:
    """The maturity classifier, fitted on the texts with a maturity label."""
    keep = [i for i, v in enumerate(labels) if v]
    return TextClassifier.fit([tokens[i] for i in keep], [labels[i] for i in keep], c=C, seed=seed,
                              card={"task": "maturity"})


def fit_sectors(tokens: Sequence[Sequence[str]], sections: Sequence[str], divisions: Sequence[str],
                seed: int = 0) -> SectorModel:
    """The sector model: 门类 on every text with one, 大类 on those with both (none when no text has a 大类)."""
    keep = [i for i, v in enumerate(sections) if v]
    section = TextClassifier.fit([tokens[i] for i in keep], [sections[i] for i in keep], c=C, seed=seed,
                                 card={"task": "section"})
    both = [i for i in keep if divisions[i]]
    division = None
    if len({f"{sections[i]}{DIVISION_SEP}{divisions[i]}" for i in both}) >= 2:
        division = TextClassifier.fit([tokens[i] for i in both],
                                      [f"{sections[i]}{DIVISION_SEP}{divisions[i]}" for i in both], c=C, seed=seed,
                                      card={"task": "division"})
    return SectorModel(section, division)


def train_models(examples: pd.DataFrame, seed: int = 0, tokens: Sequence[Sequence[str]] | None = None, *,
                 divisions: bool = True) -> GradingModels:
    """Fit both models on labelled examples (matcher.grading.labelled: offers and demands concatenated).

    Args:
        examples: columns text, maturity, section, division ("" where unlabelled).
        seed: the calibration folds' seed.
        tokens: the texts' token lists when already segmented.
        divisions: fit the 大类 model too (3.6 MB on ../shared; the shipped models leave it out).

    Returns:
        The fitted models.
    """
    tokens = tokens if tokens is not None else TextClassifier.tokens(examples["text"].tolist())
    division_labels = examples["division"].tolist() if divisions else [""] * len(examples)
    return GradingModels(fit_maturity(tokens, examples["maturity"].tolist(), seed),
                         fit_sectors(tokens, examples["section"].tolist(), division_labels, seed))
