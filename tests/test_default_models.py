"""The default engine picks the trained models when models/ holds them (encoder, activity model, their fusion), falls
back to USE-m3 with a note when it does not, never contradicts an index built before, and `matcher lab
train-default` trains nothing without the shared data."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from matcher import config as config_module
from matcher.config import MatcherConfig, _default_fusion, load_config, trained_fusion, trained_models
from matcher.index.stored_config import resolve_config, write_config
from matcher.rank.activity import ActivityModel
from matcher.schema import Direction
from pipelines.main import app

RUNNER = CliRunner()


def _activity_model(out):
    """A tiny activity model (R&D manufacturers file patents, shops do not) saved at `out`."""
    names = [f"华{i}电池科技股份有限公司" for i in range(12)] + [f"{i}号服装商行" for i in range(24)]
    texts = ["电池的研发、生产、销售；技术开发"] * 12 + ["服装零售；仓储服务"] * 24
    ActivityModel.fit(names, texts, np.array([True] * 12 + [False] * 24), min_df=2, card={"source": "test"}).save(out)
    return out


@pytest.fixture
def models_dir(tmp_path, fast_encoder, monkeypatch):
    """A models folder holding both trained default models (the fast test encoder stands in for patent-static),
    named by MATCHER_MODELS_DIR, with no MATCHER_ENCODER set."""
    folder = tmp_path / "models"
    shutil.copytree(fast_encoder, folder / "patent-static")
    _activity_model(folder / "activity")
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(folder))
    monkeypatch.delenv("MATCHER_ENCODER")
    config_module._say.cache_clear()
    return folder


def test_without_trained_models_use_m3_serves_and_the_log_says_so(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("MATCHER_ENCODER")
    config_module._say.cache_clear()
    with caplog.at_level(logging.WARNING, logger="matcher.config"):
        cfg = MatcherConfig()
    assert trained_models() is None
    assert cfg.encoder == "use-m3" and cfg.activity_model is None and cfg.fusion == _default_fusion()
    assert any("USE-m3 serves" in r.getMessage() for r in caplog.records)


def test_an_incomplete_models_folder_falls_back_to_use_m3(models_dir):
    shutil.rmtree(models_dir / "activity")
    assert trained_models() is None
    assert MatcherConfig().encoder == "use-m3"


def test_trained_models_are_the_default_with_their_activity_model_and_fusion(models_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="matcher.config"):
        cfg = MatcherConfig()
    assert cfg.encoder == config_module.TRAINED_ENCODER_SPEC.format(encoder=models_dir / "patent-static")
    assert cfg.activity_model == models_dir / "activity"
    assert cfg.fusion == trained_fusion()
    assert cfg.fusion_for(Direction.PATENT_TO_ENTERPRISE).weights["activity"] == 3.0
    assert any("trained default models serve" in r.getMessage() for r in caplog.records)
    # defaults, not settings: an index's saved configuration still wins over them
    assert not {"encoder", "activity_model", "fusion"} & cfg.model_fields_set


def test_explicit_settings_win_over_the_trained_defaults(models_dir):
    use_m3 = MatcherConfig(encoder="use-m3")
    assert use_m3.activity_model is None and use_m3.fusion == _default_fusion()
    own = MatcherConfig(activity_model=None, fusion={"patent->enterprise": {"weights": {"bm25": 1.0}}})
    assert own.activity_model is None
    assert own.fusion_for(Direction.PATENT_TO_ENTERPRISE).weights == {"bm25": 1.0}


def test_an_index_built_with_use_m3_loads_with_a_config_file_after_the_models_appear(models_dir, tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    write_config(index, MatcherConfig(encoder="use-m3", activity_model=None))
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"pool": 150}), encoding="utf-8")
    resolved = resolve_config(index, load_config(settings))
    assert resolved.encoder == "use-m3" and resolved.activity_model is None and resolved.pool == 150


def test_the_trained_default_is_the_ensemble_configuration():
    shipped = load_config(config_module.PROJECT_ROOT / "config" / "ensemble.json")
    assert config_module.TRAINED_ENCODER_SPEC.format(encoder="models/patent-static") == shipped.encoder
    assert all(trained_fusion()[d] == shipped.fusion_for(d) for d in Direction)


def test_build_uses_the_trained_models_and_keeps_them_in_the_index(models_dir, tmp_path, cache_dir, demo_patents,
                                                                   demo_enterprises, monkeypatch):
    monkeypatch.setattr(config_module, "TRAINED_ENCODER_SPEC", "{encoder}")  # the fast model alone: no USE-m3 load
    patents, enterprises = tmp_path / "patents.csv", tmp_path / "enterprises.csv"
    demo_patents.head(20).to_csv(patents, index=False)
    demo_enterprises.head(20).to_csv(enterprises, index=False)
    index = tmp_path / "index"
    res = RUNNER.invoke(app, ["build", "--patents", str(patents), "--enterprises", str(enterprises),
                              "--index-dir", str(index)], env={"MATCHER_CACHE_DIR": str(cache_dir)})
    assert res.exit_code == 0, res.output
    saved = json.loads((index / "config.json").read_text(encoding="utf-8"))
    assert saved["encoder"] == config_module.TRAINED_ENCODER_SPEC.format(encoder=models_dir / "patent-static")
    assert saved["activity_model"] == str(models_dir / "activity")
    assert saved["fusion"]["patent->enterprise"]["weights"]["activity"] == 3.0
    assert "patent-static@" in res.output  # the build's table names the encoder it used


def test_train_default_without_shared_data_trains_nothing(tmp_path):
    res = RUNNER.invoke(app, ["lab", "train-default", "--shared-dir", str(tmp_path / "none"),
                              "--models", str(tmp_path / "models")])
    assert res.exit_code == 0, res.output
    assert "nothing trained" in res.output and not (tmp_path / "models").exists()
