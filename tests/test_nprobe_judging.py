"""scripts/nprobe_judging.py score: the two lists compared on judged pairs, and unjudged pairs refused."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "nprobe_judging.py"


@pytest.fixture(scope="module")
def judging():
    spec = importlib.util.spec_from_file_location("nprobe_judging", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(tmp_path: Path, grades: dict[str, int]) -> Path:
    key = pd.DataFrame({"pair_id": ["P1~a", "P1~b", "P2~c", "P2~d", "P3~e", "P3~f"],
                        "list": ["nprobe", "exhaustive"] * 3, "rank": [9, 7, 10, 8, 6, 5]})
    key.to_csv(tmp_path / "key.tsv", sep="\t", index=False)
    path = tmp_path / "judgements.tsv"
    pd.DataFrame({"pair_id": list(grades), "grade": list(grades.values()), "judge": "j", "note": ""}).to_csv(
        path, sep="\t", index=False)
    return path


def test_score_compares_what_each_list_adds(judging, tmp_path, capsys):
    path = _write(tmp_path, {"P1~a": 0, "P1~b": 2, "P2~c": 1, "P2~d": 1, "P3~e": 0, "P3~f": 1})
    judging.score(tmp_path, path, resamples=200)
    out = capsys.readouterr().out
    assert "nprobe     adds 3 enterprises: mean grade 0.333, related (>= 1) 1, grade 2 0, mean rank 8.3" in out
    assert "exhaustive adds 3 enterprises: mean grade 1.333, related (>= 1) 3, grade 2 1, mean rank 6.7" in out
    assert "3 patents: exhaustive better for 2, nprobe better for 0, tied 1; exhaustive - nprobe, sum of grades a " \
           "patent: +1.000" in out


def test_score_refuses_a_pool_that_is_not_fully_judged(judging, tmp_path):
    path = _write(tmp_path, {"P1~a": 0, "P1~b": 2})
    with pytest.raises(SystemExit, match="4 pooled pairs are not judged"):
        judging.score(tmp_path, path)
