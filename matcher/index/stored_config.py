"""The engine configuration an index was built with, kept in its folder and reconciled with a given one on load."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

from pydantic import ValidationError

from matcher.config import MatcherConfig
from matcher.errors import IndexMismatchError, MatcherError
from matcher.index.atomic import atomic_write_text, readable_dir

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"

INDEX_FIELDS = ("encoder", "segment_mode", "bm25_k1", "bm25_b", "dense_backend", "exact_limit", "vector_storage")
"""Fields that change what is indexed: a given configuration may not contradict the saved one in them."""

LOCAL_FIELDS = ("cache_dir",)
"""Fields that belong to the machine, not to the index: never saved, taken from the given configuration or the
environment."""


def write_config(directory: str | Path, config: MatcherConfig) -> Path:
    """Write `config.json` (every field but the machine's own) into an index folder, atomically.

    Args:
        directory: the index folder (the temporary one of an atomic swap).
        config: the engine configuration.

    Returns:
        The path written.
    """
    path = Path(directory) / CONFIG_FILE
    data = config.model_dump(mode="json", exclude=set(LOCAL_FIELDS))
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    return path


def read_config(directory: str | Path) -> MatcherConfig | None:
    """The configuration saved in an index folder (None for an index saved before configurations were kept); while
    a writer swaps the folder, the one of the last complete copy (`readable_dir`).

    Raises:
        MatcherError: the file is damaged.
    """
    path = readable_dir(directory) / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        return MatcherConfig.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise MatcherError(f"{path} is damaged ({exc}): rebuild the index with `matcher build`") from None


def resolve_config(directory: str | Path, config: MatcherConfig | None = None, *, log: bool = True) -> MatcherConfig:
    """The configuration to load an index with: the saved one, with the fields `config` sets explicitly.

    Only the fields a given configuration sets explicitly count (a JSON file's keys, keyword arguments; not the
    defaults it fills in). Those that change the index (`INDEX_FIELDS`) must equal the saved ones; the others
    (fusion weights, pool, activity model, key terms...) override the saved ones, and each override is logged as a
    warning (on stderr for a command-line user).

    Args:
        directory: the index folder.
        config: a configuration given by the caller (None: the saved one as it is).
        log: log the overrides (and the absence of a saved configuration).

    Returns:
        The configuration; for an index saved without one, `config` or the defaults.

    Raises:
        IndexMismatchError: `config` contradicts the index in a field that changes it.
    """
    saved = read_config(directory)
    if saved is None:
        if config is None and log:
            logger.info("the index at %s holds no configuration (saved by an older version): using the defaults", directory)
        return config if config is not None else MatcherConfig()
    if config is None:
        return saved
    given, stored = config.model_dump(mode="json"), saved.model_dump(mode="json")
    explicit = sorted(config.model_fields_set)
    conflicts = [f for f in INDEX_FIELDS if f in explicit and given[f] != stored[f]]
    if conflicts:
        detail = "; ".join(f"{f}: index {stored[f]!r}, given {given[f]!r}" for f in conflicts)
        raise IndexMismatchError(f"the configuration given conflicts with the index at {directory} in {', '.join(conflicts)} "
                                 f"({detail}): leave these fields out to use the index's, or rebuild the index with "
                                 "`matcher build`")
    overrides = [f for f in explicit if f not in LOCAL_FIELDS and given[f] != stored[f]]
    if overrides and log:
        logger.warning("overriding the configuration saved with the index at %s: %s", directory,
                    "; ".join(f"{f}={given[f]!r} (saved {stored[f]!r})" for f in overrides))
    return saved.model_copy(update={f: copy.deepcopy(getattr(config, f)) for f in explicit})


def changed_fields(directory: str | Path, config: MatcherConfig) -> list[str] | None:
    """The fields (but the machine's own) in which `config` differs from the configuration saved in an index folder,
    every field counted whether set explicitly or by default; None when the folder holds no saved configuration.

    Raises:
        MatcherError: the saved file is damaged.
    """
    saved = read_config(directory)
    if saved is None:
        return None
    given, stored = config.model_dump(mode="json"), saved.model_dump(mode="json")
    return sorted(f for f in given.keys() | stored.keys() if f not in LOCAL_FIELDS and given.get(f) != stored.get(f))
