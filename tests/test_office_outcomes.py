"""Learning from outcomes: the documented priors on the next night's lists, the seeded simulator (模拟) and its replay,
the learning-to-rank fit and its held-out comparison, through the CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.engine import Matcher
from matcher.office.ltr import OutcomeModel, fit_outcomes
from matcher.office.outcomes import OutcomePriors, maturity_evidence, next_lists, read_outcomes
from matcher.office.simulate import SIMULATED_NOTE, SimulationSettings, replay, simulate
from matcher.tracking import LICENSED, NEGOTIATING, PUSHED, REJECTED, REPLIED, TrackingStore
from pipelines.main import app

SMALL = SimulationSettings(seed=3, weeks=4, enterprises_per_week=12, per_enterprise=3, depth=20)


@pytest.fixture(scope="module")
def matcher(demo_index):
    return Matcher.load(demo_index)


def _outcome(store, patent, enterprise, status, reason=None):
    item = store.add(patent, enterprise, user="test")
    path = {REJECTED: [PUSHED, REJECTED], LICENSED: [PUSHED, REPLIED, NEGOTIATING, LICENSED]}[status]
    for s in path:
        item = store.update(item.id, item.version, user="test", status=s, reason=reason if s == REJECTED else None)


def test_the_rules_act_on_the_next_lists(matcher, tmp_path):
    store = TrackingStore(f"sqlite:///{tmp_path / 'tracking.sqlite'}")
    before, _ = next_lists(matcher, OutcomePriors(matcher, read_outcomes(store)), ["DEMO-D-001", "DEMO-D-002"], k=5)
    first = before[before["enterprise_id"] == "DEMO-D-001"]["patent_id"].tolist()
    second = before[before["enterprise_id"] == "DEMO-D-002"]["patent_id"].tolist()
    # D-001 already has a solution like its first patent; D-002's first patent was refused as immature by two firms
    _outcome(store, first[0], "DEMO-D-001", REJECTED, "已有方案")
    _outcome(store, second[0], "DEMO-C-001", REJECTED, "技术不成熟")
    _outcome(store, second[0], "DEMO-C-002", REJECTED, "技术不成熟")
    _outcome(store, second[4], "DEMO-D-002", LICENSED)
    priors = OutcomePriors(matcher, read_outcomes(store))
    _, after = next_lists(matcher, priors, ["DEMO-D-001", "DEMO-D-002"], k=5, skip_tracked=False)
    _, night = next_lists(matcher, priors, ["DEMO-D-002"], k=5)  # as `matcher match --skip-tracked`
    assert second[4] not in set(night["patent_id"])
    a1 = after[after["enterprise_id"] == "DEMO-D-001"]
    a2 = after[after["enterprise_id"] == "DEMO-D-002"].set_index("patent_id")
    assert first[0] not in set(a1["patent_id"]) and len(a1) == 5  # stopped, and the list filled from deeper
    # lowered: out of the list, or further down with the reason
    assert second[0] not in a2.index or (a2.at[second[0], "rank"] > 1 and "技术不成熟" in a2.at[second[0], "reason"])
    assert a2.index[0] != second[0]
    assert a2.at[second[4], "rank"] < 5 and "提高" in a2.at[second[4], "reason"]
    evidence = maturity_evidence(read_outcomes(store)).set_index("patent_id")
    assert evidence.at[second[0], "immature_refusals"] == 2


def test_the_simulator_is_seeded_labelled_and_replayable(matcher, tmp_path):
    log = simulate(matcher, SMALL)
    again = simulate(matcher, SMALL)
    pd.testing.assert_frame_equal(log, again)
    assert not log.equals(simulate(matcher, SimulationSettings(**{**SMALL.__dict__, "seed": 4})))
    assert log["simulated"].all() and len(log) >= 100 and not log.duplicated(["patent_id", "enterprise_id"]).any()
    assert {"技术不成熟", "已有方案"} <= set(log["reason"]) and (log["status"] == LICENSED).any()
    store = TrackingStore(f"sqlite:///{tmp_path / 'sim.sqlite'}")
    assert replay(log, store, matcher) == len(log)
    items = store.frame()
    assert (items["note"] == SIMULATED_NOTE).all() and items["created_by"].str.startswith("模拟专员").all()
    merged = items.merge(log, on=["patent_id", "enterprise_id"])
    assert (merged["status_x"] == merged["status_y"]).all()


def test_the_learnt_ranking_is_compared_on_held_out_weeks(matcher, tmp_path):
    log = simulate(matcher, SMALL)
    model = fit_outcomes(log, held_out=0.25)
    assert model.card["held_out_weeks"] == [4] and model.card["simulated"] is True
    assert 0.0 <= model.auc_model <= 1.0 and model.wins == (model.auc_model >= model.auc_default + 0.01)
    model.save(tmp_path / "m.json")
    assert OutcomeModel.load(tmp_path / "m.json") == model


def test_outcomes_commands_simulate_fit_and_show_before_after(demo_index, tmp_path):
    url = f"sqlite:///{tmp_path / 'sim.sqlite'}"
    run = CliRunner()
    sim = run.invoke(app, ["outcomes", "simulate", "--index-dir", str(demo_index), "--log", str(tmp_path / "log.csv"),
                           "--seed", "3", "--weeks", "4", "--enterprises-per-week", "12", "--replay-into", url],
                     env={"COLUMNS": "200"})
    assert sim.exit_code == 0, sim.output
    assert "SIMULATED outcome log (模拟, seed 3)" in sim.output and "replayed" in sim.output
    fit = run.invoke(app, ["outcomes", "fit", "--log", str(tmp_path / "log.csv"), "--model-out", str(tmp_path / "m.json")])
    assert fit.exit_code == 0, fit.output
    summary = json.loads(fit.output.strip().splitlines()[-1])
    assert set(summary) >= {"auc_model", "auc_default", "wins", "held_out"}
    apply = run.invoke(app, ["outcomes", "apply", "--index-dir", str(demo_index), "--database-url", url, "--model",
                             str(tmp_path / "m.json"), "--show", "2", "-k", "5", "--out", str(tmp_path)],
                       env={"COLUMNS": "200"})
    assert apply.exit_code == 0, apply.output
    assert "SIMULATED outcomes (模拟)" in apply.output and "before -> after" in apply.output
    after = pd.read_csv(tmp_path / "next_night_after.csv", encoding="utf-8-sig")
    assert set(after.columns) >= {"enterprise_id", "rank", "patent_id", "adjusted", "reason", "before_rank"}
    empty = run.invoke(app, ["outcomes", "apply", "--index-dir", str(demo_index), "--database-url",
                             f"sqlite:///{tmp_path / 'empty.sqlite'}"])
    assert empty.exit_code == 2 and "holds no outcomes" in empty.output
