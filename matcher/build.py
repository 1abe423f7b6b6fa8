"""Building an index from complete inputs: in full, or as the changes to the saved index when it was built with the
same settings (the nightly case, where most records are the ones indexed the night before)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from matcher.engine import Matcher
from matcher.errors import MatcherError
from matcher.index.atomic import readable_dir
from matcher.index.changes import RecordChanges, complete_records, record_changes
from matcher.index.manifest import current_versions, read_manifest
from matcher.index.stored_config import changed_fields
from matcher.ingest import LoadResult
from matcher.memory import give_back_freed_memory
from matcher.schema import Kind

logger = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did.

    Attributes:
        matcher: the engine holding the index as saved (or as it stands, when nothing had to be saved).
        incremental: whether the saved index was updated rather than built again from the inputs.
        reason: why the build took the path it took (for the log).
        changes: per kind given inputs, on the incremental path, what changed against the saved index.
        kept: per kind given no input, the saved records kept.
        dropped: per kind given no input, the saved records dropped (`replace_all`).
        saved: whether the index folder was written (an incremental build that changes nothing leaves it as it is).
    """

    matcher: Matcher
    incremental: bool
    reason: str
    changes: dict[Kind, RecordChanges] = field(default_factory=dict)
    kept: dict[Kind, int] = field(default_factory=dict)
    dropped: dict[Kind, int] = field(default_factory=dict)
    saved: bool = True


def build_index(
    matcher: Matcher,
    inputs: Sequence[LoadResult],
    index_dir: str | Path,
    *,
    replace_all: bool = False,
    incremental: bool = True,
    lock_timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
    show_progress: bool = False,
) -> BuildReport:
    """Make the index at `index_dir` hold the given records and save it atomically.

    The kinds given inputs hold exactly those records (several inputs of one kind are indexed one after the other:
    a later record replaces an earlier one with its id); the kinds given none keep the saved records, or are dropped
    with `replace_all`. When the saved index was built with the same settings (every field of the configuration,
    the encoder's model, the library versions), the build applies only what changed to it, under the writer lock:
    the new and changed records are segmented, embedded and indexed, the gone ones deleted, and the folder is written
    only when something changed (the reciprocal lists are ranked again then, as in a full build). Otherwise the
    inputs are indexed from scratch and the result replaces the saved index.

    Args:
        matcher: an engine holding no records, with the configuration (and encoder, segmenter) to build with; on
            the full path it indexes the inputs (a Ray engine indexes them on Ray).
        inputs: the validated records.
        index_dir: the index folder.
        replace_all: drop the kinds given no input.
        incremental: allow the incremental path (False: always build in full).
        lock_timeout, on_wait: for the writer lock (`Matcher.lock`).
        show_progress: show progress bars.

    Raises:
        MatcherError: the lock was not free in time, a kept side is not comparable, or the folder cannot be written.
    """
    index_dir = Path(index_dir)
    reason = _why_full(matcher, index_dir) if incremental else "asked for a full build"
    if reason is None:
        with Matcher.lock(index_dir, timeout=lock_timeout, on_wait=on_wait):
            try:
                saved = Matcher.load(index_dir, matcher.config, encoder=matcher.encoder, segmenter=matcher.segmenter)
            except MatcherError as exc:
                saved, reason = None, f"the saved index cannot be updated ({exc})"
            if saved is not None:
                return _update(saved, inputs, index_dir, replace_all=replace_all, show_progress=show_progress)
    logger.info("full build: %s", reason)
    rebuilt = list(dict.fromkeys(result.kind for result in inputs))
    for kind in rebuilt:  # several inputs of one kind as one frame: the new index takes its vectors without a copy
        matcher.index(kind, complete_records(kind, [r.frame for r in inputs if r.kind == kind]),
                      show_progress=show_progress)
    others = [kind for kind in Kind if kind not in rebuilt]
    give_back_freed_memory()  # the indexing's temporaries, before the reciprocal lists and the save
    with Matcher.lock(index_dir, timeout=lock_timeout, on_wait=on_wait):
        dropped = {k: n for k, n in Matcher.stored_counts(index_dir).items() if k in others} if replace_all else {}
        kept = {} if replace_all else matcher.keep(index_dir, others)
        matcher.save(index_dir)
    return BuildReport(matcher, False, reason, kept=kept, dropped=dropped)


def _why_full(matcher: Matcher, index_dir: Path) -> str | None:
    """Why the saved index cannot be updated in place (None when it can)."""
    if not index_dir.exists() and not readable_dir(index_dir).exists():
        return "no index yet"
    try:
        differ = changed_fields(index_dir, matcher.config)
        source = readable_dir(index_dir)
        manifests = [read_manifest(source / kind.value) for kind in Kind if (source / kind.value).is_dir()]
    except MatcherError as exc:
        return f"the saved index cannot be read ({exc})"
    if differ is None:
        return "the saved index keeps no configuration"
    if differ:
        return "the settings differ from the saved index's in " + ", ".join(differ)
    if not manifests:
        return "the saved index is empty"
    versions = current_versions()
    if any(m.versions != versions for m in manifests):
        return "the saved index was built with other library versions"
    return None


def _update(saved: Matcher, inputs: Sequence[LoadResult], index_dir: Path, *, replace_all: bool,
            show_progress: bool) -> BuildReport:
    """Apply the inputs' changes to the saved index (`saved`, loaded under the writer lock) and save it when
    something changed."""
    given = {result.kind for result in inputs}
    changes = {}
    for kind in (k for k in Kind if k in given):
        frame = complete_records(kind, [r.frame for r in inputs if r.kind == kind])
        changes[kind] = record_changes(saved.get(kind), kind, frame)
        if not changes[kind].empty:
            saved.apply(changes[kind], show_progress=show_progress)
    others = [kind for kind in saved.kinds if kind not in given]
    dropped = {kind: saved.drop(kind) for kind in others} if replace_all else {}
    kept = {} if replace_all else {kind: saved.count(kind) for kind in others}
    changed = any(not c.empty for c in changes.values()) or bool(dropped)
    stale = [what for what, current in (("its reciprocal lists were out of date and are ranked again",
                                          saved.signals.reciprocal_current()),
                                         ("its enterprises' activity scores were missing or out of date",
                                          saved.signals.activity_current())) if not current]
    if changed or stale:
        give_back_freed_memory()
        saved.save(index_dir)
    reason = "; ".join(["the saved index has the same settings", *([] if changed else stale)])
    return BuildReport(saved, True, reason, changes=changes, kept=kept, dropped=dropped, saved=changed or bool(stale))
