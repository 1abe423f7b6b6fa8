"""Train the patent-activity model (matcher.rank.activity) on the records of a built index.

Labels (`index_labels`): an enterprise is patent-active when it is the applicant of at least one indexed patent (the
engine's applicant link, matcher.index.portfolio); every other enterprise is not. Training on the shared research
data, with its held-out companies, is `matcher.lab.activity`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.errors import MatcherError
from matcher.index.portfolio import Portfolio
from matcher.rank.activity import ActivityModel
from matcher.text.normalize import is_organisation_name


@dataclass
class ActivityLabels:
    """Enterprise profiles with a patent-activity label.

    Attributes:
        names, texts: the profiles.
        labels: True for patent-active enterprises.
        source: where the labels come from (for the model card).
        held_out: names of companies kept out of training whose activity is known (scored, never trained on).
        capitals: their registered capital as written ("" where unknown); None when the records carry none.
    """

    names: list[str]
    texts: list[str]
    labels: np.ndarray
    source: str
    held_out: dict[str, set[str]]
    capitals: list[str] | None = None

    @property
    def positives(self) -> int:
        return int(self.labels.sum())


def index_labels(patents: pd.DataFrame | None, enterprises: pd.DataFrame, source: str = "a built index") -> ActivityLabels:
    """Labels from a user's own records: the enterprises named as applicants of the indexed patents are positive,
    the other organisations negative; records that are not organisations (demands) are left out.

    Args:
        patents: patent records indexed by row id (with "applicant"); None when the index has no patents.
        enterprises: enterprise records indexed by row id ("name", "text").
        source: how to name the data in the model card.
    """
    link = Portfolio.link(patents, enterprises) if patents is not None else Portfolio()
    active = set(link.holders.tolist())
    names = enterprises["name"].fillna("").astype(str)
    organisations = enterprises[names.map(is_organisation_name)]  # demands are not company profiles
    labels = np.array([row in active for row in organisations.index], dtype=bool)
    capitals = organisations["capital"].fillna("").astype(str).tolist() if "capital" in organisations else None
    return ActivityLabels(organisations["name"].fillna("").astype(str).tolist(),
                          organisations["text"].fillna("").astype(str).tolist(), labels, source, {}, capitals)

def fit_activity(labels: ActivityLabels, *, c: float = 0.3, min_df: int = 5, min_positives: int = 10) -> ActivityModel:
    """Fit the model on labelled enterprises (its card records the cross-fitted AUC and the training time).

    Args:
        labels: the enterprises and their labels; their registered capital is read where the labels carry it.
        c: inverse regularisation of the logistic regression.
        min_df: profiles an n-gram must occur in.
        min_positives: patent-active enterprises needed.

    Returns:
        The fitted model (not saved).

    Raises:
        MatcherError: fewer than `min_positives` patent-active enterprises, or none that is not.
    """
    if labels.positives < min_positives:
        raise MatcherError(
            f"only {labels.positives} of {len(labels.labels)} enterprises are patent-active in {labels.source} "
            f"(at least {min_positives} needed): index patents whose applicant (申请人) names indexed enterprises")
    started = time.perf_counter()
    model = ActivityModel.fit(labels.names, labels.texts, labels.labels, capitals=labels.capitals, c=c, min_df=min_df,
                              card={"source": labels.source})
    model.card["train_seconds"] = round(time.perf_counter() - started, 1)
    return model


def train_activity(out: str | Path, labels: ActivityLabels, *, c: float = 0.3, min_df: int = 5,
                   min_positives: int = 10) -> ActivityModel:
    """Fit the model (`fit_activity`) and save it with its card.

    Args:
        out: the model directory.
        labels, c, min_df, min_positives: see `fit_activity`.

    Returns:
        The saved model.

    Raises:
        MatcherError: fewer than `min_positives` patent-active enterprises, or none that is not.
    """
    model = fit_activity(labels, c=c, min_df=min_df, min_positives=min_positives)
    model.save(out)
    return model
