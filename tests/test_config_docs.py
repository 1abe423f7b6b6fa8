"""docs/configuration.md matches the configuration model, and lists every environment variable the product reads."""

from __future__ import annotations

import re
from pathlib import Path

from matcher.config import FusionConfig, MatcherConfig
from matcher.config_docs import DOCS_FILE, ENVIRONMENT, REGENERATE, render

ROOT = Path(__file__).resolve().parent.parent
# the product's code (the research tooling and tests may read variables of their own)
PRODUCT = [p for p in [*ROOT.joinpath("matcher").rglob("*.py"), *ROOT.joinpath("pipelines").glob("*.py"), ROOT / "app.py"]
           if "lab" not in p.relative_to(ROOT).parts]
_VARIABLE = re.compile(r"""["'](MATCHER_[A-Z_]+|DATABASE_URL)["']""")


def test_configuration_doc_is_up_to_date():
    assert DOCS_FILE.is_file(), f"{DOCS_FILE} is missing: run `{REGENERATE}`"
    assert DOCS_FILE.read_text(encoding="utf-8") == render(), (
        f"{DOCS_FILE.relative_to(ROOT)} is stale (the configuration model changed): run `{REGENERATE}` and commit it")


def test_every_field_is_described():
    for model in (MatcherConfig, FusionConfig):
        missing = [name for name, info in model.model_fields.items() if not (info.description or "").strip()]
        assert not missing, f"{model.__name__} fields without a Field(description=...): {missing}"


def test_environment_table_lists_what_the_code_reads():
    read = {m for p in PRODUCT for m in _VARIABLE.findall(p.read_text(encoding="utf-8"))}
    assert read, "no environment variable found: the scan is broken"
    assert read <= set(ENVIRONMENT), f"add to matcher.config_docs.ENVIRONMENT: {sorted(read - set(ENVIRONMENT))}"
    assert set(ENVIRONMENT) <= read, f"no longer read, remove from ENVIRONMENT: {sorted(set(ENVIRONMENT) - read)}"


def test_doc_does_not_depend_on_the_environment(monkeypatch):
    monkeypatch.setenv("MATCHER_ENCODER", "/somewhere/model")
    monkeypatch.setenv("MATCHER_CACHE_DIR", "/somewhere/cache")
    assert "/somewhere" not in render()
