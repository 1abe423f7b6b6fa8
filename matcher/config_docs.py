"""docs/configuration.md, generated from the configuration model and the environment variables the product reads.

Regenerate with `python -m matcher.config_docs` (tests/test_config_docs.py fails when the file is stale).
"""

from __future__ import annotations

import os
import sys
import types
import typing
from enum import Enum
from pathlib import Path
from unittest import mock

from pydantic import BaseModel

from matcher.config import PROJECT_ROOT, FusionConfig, MatcherConfig, trained_fusion
from matcher.schema import Direction

DOCS_FILE = PROJECT_ROOT / "docs" / "configuration.md"
REGENERATE = "python -m matcher.config_docs"

ENVIRONMENT: dict[str, tuple[str, str]] = {
    "MATCHER_ENCODER": ("the `encoder` field's default", "The encoder when no configuration names one: `use-m3` "
                                                        "(default) or a sentence-transformers model directory."),
    "MATCHER_CACHE_DIR": ("the `cache_dir` field's default", "The embedding cache directory (default artifacts/cache)."),
    "MATCHER_MODELS_DIR": ("the `encoder` field's default (matcher.config.trained_models)",
                           "The folder holding the trained default models `patent-static` and `activity` (default "
                           "models/); when it lacks either, USE-m3 serves."),
    "MATCHER_CONFIG": ("workbench", "A configuration file (JSON, the fields above) the workbench loads the engine with."),
    "MATCHER_INDEX_DIR": ("workbench", "The index folder the workbench searches (default artifacts/index)."),
    "MATCHER_EXPORT_DIR": ("workbench", "The folder of the nightly lists the workbench shows, i.e. the `matches` folder "
                                        "of `matcher match --out` (default exports/matches)."),
    "MATCHER_PRELOAD_ENCODER": ("workbench", "`0` stops the workbench from loading USE-m3 in the background after start "
                                             "(it is then loaded on the first free-text search)."),
    "MATCHER_HIDE_CONTACTS_FROM_VIEWERS": ("workbench", "`1` hides the records' contacts (contact person, phone, "
                                                        "e-mail, inventor) from viewer accounts; editors see them."),
    "MATCHER_OFFICE_CONTACT": ("workbench", "The office's contact line printed in every 推送函 (editable on the page)."),
    "MATCHER_LETTER_TEMPLATE": ("workbench", "A UTF-8 text file with the office's 推送函 template (default: the "
                                             "built-in one; editable on the page)."),
    "MATCHER_USERS_FILE": ("workbench (matcher.auth)", "The officers' accounts file (default config/users.toml)."),
    "MATCHER_LOGIN_MAX_FAILURES": ("workbench (matcher.auth)", "Failed logins in a row, per user name and per client, "
                                                               "that lock them (default 5; the third and later tries "
                                                               "first wait 2, 4, 8 … s)."),
    "MATCHER_LOGIN_LOCK_MINUTES": ("workbench (matcher.auth)", "How long such a lock lasts, in minutes (default 15)."),
    "MATCHER_LOGIN_COOKIE_SECRET": ("workbench (matcher.auth)", "The key that signs the login cookie (at least 32 "
                                                                "characters); unset: a refresh asks for the password "
                                                                "again (logged as a warning)."),
    "MATCHER_LOGIN_COOKIE_SECRET_FILE": ("workbench (matcher.auth)", "A file holding that key, read when "
                                                                     "MATCHER_LOGIN_COOKIE_SECRET is not set."),
    "MATCHER_LOGIN_COOKIE_HOURS": ("workbench (matcher.auth)", "How long a login lasts across refreshes, in hours "
                                                               "(default 8)."),
    "DATABASE_URL": ("workbench, `matcher match --skip-tracked` (matcher.tracking)",
                     "The tracking database (SQLAlchemy URL; `postgres://` is given the psycopg driver; default the "
                     "SQLite file artifacts/tracking.sqlite)."),
    "MATCHER_SHARED_DIR": ("data sources, research tooling and tests (matcher.ingest)",
                           "The shared data folder holding data/ and benchmarks/ (default ../shared beside the project)."),
    "MATCHER_LOCK_TIMEOUT": ("`matcher build` / `upsert` / `delete` (matcher.index.lock)",
                             "Seconds a writer of an index waits while another one holds its lock (the file INDEX.lock "
                             "beside the folder) before it gives up with an error (default 600; `--lock-timeout` wins)."),
    "MATCHER_FAULT_POINT": ("tests only (matcher.index.atomic.fault_point)",
                            "Fault-injection hook of tests/test_faults.py: a writer that reaches the named point "
                            "(swap:start, swap:middle, swap:end, writer:loaded) stops there until killed. Never set "
                            "it in production."),
}
"""Environment variable -> (who reads it, what it does). Every variable the product reads is listed here."""

# defaults that come from the environment are documented as they are without it
_ENV_FREE = [name for name in ENVIRONMENT if name in ("MATCHER_ENCODER", "MATCHER_CACHE_DIR", "MATCHER_MODELS_DIR")]


def _type_name(annotation) -> str:
    """A reader's name for a field's type (Literal values, optional, dict and class names)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a!r}`".replace("'", '"') for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _type_name(a) for a in args)
    if origin is dict:
        return f"object ({_type_name(args[0])} → {_type_name(args[1])})"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "direction"
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return "path"
    return getattr(annotation, "__name__", str(annotation))


def _value(value) -> str:
    """A default as it is written in a configuration file."""
    if isinstance(value, Path):
        try:
            value = value.relative_to(PROJECT_ROOT)
        except ValueError:
            pass
        return f"`{value.as_posix()}`"
    if isinstance(value, dict) and value and all(isinstance(k, Direction) for k in value):
        return "per direction (below)"
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, dict):
        return "`{" + ", ".join(f'"{k}": {v}' for k, v in value.items()) + "}`"
    return f"`{value}`"


def _field_table(model: type[BaseModel]) -> list[str]:
    rows = ["| Field | Type | Default | Description |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        default = info.get_default(call_default_factory=True)
        description = " ".join((info.description or "").split()).replace("|", "\\|")
        rows.append(f"| `{name}` | {_type_name(info.annotation)} | {_value(default)} | {description} |")
    return rows


def _fusion_table(fusion: dict[Direction, FusionConfig]) -> list[str]:
    names = list(dict.fromkeys(w for f in fusion.values() for w in f.weights))
    rows = ["| Direction | method | rrf_k | query_segment_mode | " + " | ".join(names) + " |",
            "|---" * (4 + len(names)) + "|"]
    for direction, f in fusion.items():
        weights = " | ".join(f"{f.weights[n]:g}" if n in f.weights else "–" for n in names)
        rows.append(f"| `{direction.value}` | {f.method} | {f.rrf_k} | {f.query_segment_mode} | {weights} |")
    return rows


def render() -> str:
    """The text of docs/configuration.md (independent of the environment it is generated in)."""
    # the defaults without trained models (which models/ holds differs by machine); the trained ones are listed apart
    with mock.patch.dict(os.environ), mock.patch("matcher.config.trained_models", return_value=None):
        for name in _ENV_FREE:
            os.environ.pop(name, None)
        fusion = MatcherConfig().fusion
        lines = [
            "# Configuration",
            "",
            f"<!-- Generated by `{REGENERATE}` from matcher/config.py; do not edit by hand. -->",
            "",
            "The engine is configured by one object, `matcher.config.MatcherConfig`. A configuration file is a JSON "
            "object with any of the fields below (the others keep their defaults), given to the commands with "
            "`--config FILE` and to the workbench with `MATCHER_CONFIG`; see `config/` for examples. A built index "
            "keeps the configuration it was built with (`config.json` in the index folder) and is loaded with it: a "
            "configuration given to a command that uses an existing index changes only the fields it sets. Fields "
            "that change the index (`encoder`, `segment_mode`, `bm25_k1`, `bm25_b`, `dense_backend`, `exact_limit`, "
            "`vector_storage`) "
            "must then agree with it (else the command stops with an error); the others (fusion, pool, activity "
            "model, ...) override the saved ones (a command that rewrites the index, such as upsert, saves them "
            "with it).",
            "",
            "## Engine (`MatcherConfig`)",
            "",
            *_field_table(MatcherConfig),
            "",
            "## Fusion of one direction (`FusionConfig`)",
            "",
            "`fusion` maps a direction to these settings; a direction left out keeps its default.",
            "",
            *_field_table(FusionConfig),
            "",
            "### Defaults per direction",
            "",
            "Weights by scorer name (– : not used). Chosen on the development benchmarks, one setting per "
            "direction (docs/evaluation.md).",
            "",
            *_fusion_table(fusion),
            "",
            "With the trained default models (models/patent-static and models/activity, see the `encoder` field), "
            "the default encoder is USE-m3 with the trained static encoder, the activity model is models/activity and "
            "the fusion defaults are these: config/ensemble.json's settings.",
            "",
            *_fusion_table(trained_fusion()),
            "",
            "## Environment variables",
            "",
            "| Variable | Read by | What it does |",
            "|---|---|---|",
            *(f"| `{name}` | {who} | {what} |" for name, (who, what) in ENVIRONMENT.items()),
            "",
            "Loading a local sentence-transformers model sets `HF_HUB_OFFLINE=1` and `TRANSFORMERS_OFFLINE=1` unless "
            "they are set: models are read from disk, never downloaded.",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write docs/configuration.md (`--check`: only say whether it is up to date; exit status 1 when stale)."""
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        fresh = DOCS_FILE.is_file() and DOCS_FILE.read_text(encoding="utf-8") == text
        print(f"{DOCS_FILE} is {'up to date' if fresh else f'stale: run `{REGENERATE}`'}")
        return 0 if fresh else 1
    DOCS_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {DOCS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
