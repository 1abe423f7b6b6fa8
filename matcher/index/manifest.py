"""Index manifest: what an index was built from (model, dimension, data, versions) and checks against it."""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from matcher.errors import IndexMismatchError, MatcherError
from matcher.index.atomic import atomic_write_text

MANIFEST_FILE = "manifest.json"

# distribution names whose versions are recorded in every manifest
_DISTRIBUTIONS = {
    "numpy": "numpy",
    "faiss": "faiss-cpu",
    "jieba": "jieba",
    "sentence-transformers": "sentence-transformers",
}


@dataclass
class Manifest:
    """Description of one built index, stored next to it as `manifest.json`.

    Attributes:
        kind: which records the index holds ("patent" or "enterprise").
        model_id: the encoder model the vectors were computed with.
        dim: the embedding dimension.
        rows: number of indexed records.
        data_hash: `data_hash` of the indexed (id, text) pairs.
        versions: library versions at build time (`current_versions`).
        built_at: ISO-8601 UTC build time.
        params: index parameters (backend, BM25 k1/b, ...).
        source: where the manifest was read from (not serialised; used in messages).
    """

    kind: str
    model_id: str
    dim: int
    rows: int
    data_hash: str
    versions: dict[str, str]
    built_at: str
    params: dict
    source: str | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> str:
        """Serialise to pretty-printed JSON (UTF-8 text, non-ASCII kept readable).

        Returns:
            The JSON text.
        """
        data = asdict(self)
        data.pop("source")
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str | None = None) -> Manifest:
        """Parse JSON written by `to_json`; unknown keys are ignored.

        Args:
            text: the JSON text.
            source: where the text came from, for error messages.

        Returns:
            The manifest.

        Raises:
            MatcherError: the text is not valid JSON or lacks a field.
        """
        where = f"index manifest {source}" if source else "index manifest"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MatcherError(f"{where} is not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise MatcherError(f"{where} is not a JSON object")
        names = [f.name for f in fields(cls) if f.name != "source"]
        missing = [n for n in names if n not in data]
        if missing:
            raise MatcherError(f"{where} lacks field(s) {', '.join(missing)}")
        try:
            return cls(
                kind=str(data["kind"]),
                model_id=str(data["model_id"]),
                dim=int(data["dim"]),
                rows=int(data["rows"]),
                data_hash=str(data["data_hash"]),
                versions={str(k): str(v) for k, v in dict(data["versions"]).items()},
                built_at=str(data["built_at"]),
                params=dict(data["params"]),
                source=source,
            )
        except (TypeError, ValueError) as exc:
            raise MatcherError(f"{where} has a field of the wrong type ({exc})") from exc


def write_manifest(directory: str | Path, manifest: Manifest) -> Path:
    """Write `manifest.json` into `directory` atomically.

    Args:
        directory: the index directory.
        manifest: what to write.

    Returns:
        The path of the written file.
    """
    path = Path(directory) / MANIFEST_FILE
    atomic_write_text(path, manifest.to_json())
    return path


def read_manifest(directory: str | Path) -> Manifest:
    """Read `manifest.json` from an index directory.

    Args:
        directory: the index directory.

    Returns:
        The manifest, with `source` set to the directory.

    Raises:
        MatcherError: the file is missing or damaged; the message says to run `matcher build`.
    """
    directory = Path(directory)
    path = directory / MANIFEST_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MatcherError(
            f"no index at {directory} (missing {MANIFEST_FILE}) -> run `matcher build` first"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MatcherError(
            f"index at {directory} is damaged (cannot read {MANIFEST_FILE}: {exc}) -> rebuild it with `matcher build`"
        ) from exc
    try:
        return Manifest.from_json(text, source=str(directory))
    except MatcherError as exc:
        raise MatcherError(f"index at {directory} is damaged ({exc}) -> rebuild it with `matcher build`") from exc


def _describe_encoder(model_id: str | None, dim: int | None) -> str:
    if model_id is None:
        return f"has dim {dim}"
    return f"is '{model_id}'" + (f" (dim {dim})" if dim is not None else "")


def check_manifest(
    manifest: Manifest,
    *,
    model_id: str | None = None,
    dim: int | None = None,
    kind: str | None = None,
    segmenter: Mapping | None = None,
) -> None:
    """Check that a stored index fits the current configuration; arguments left as None are not checked.

    Args:
        manifest: the stored manifest (from `read_manifest`).
        model_id: the configured encoder model.
        dim: the configured encoder's embedding dimension.
        kind: the record kind the caller expects the index to hold.
        segmenter: the configured segmenter's settings (`Segmenter.config`); an index whose manifest records none
            (an older one) is not checked.

    Raises:
        IndexMismatchError: the index was built with another model, dimension, record kind or segmenter.
    """
    where = f"index at {manifest.source}" if manifest.source else "index"
    model_bad = model_id is not None and model_id != manifest.model_id
    dim_bad = dim is not None and int(dim) != manifest.dim
    if model_bad or dim_bad:
        built = f"'{manifest.model_id}' (dim {manifest.dim})"
        configured = _describe_encoder(model_id, dim)
        raise IndexMismatchError(
            f"{where} was built with model {built} but the configured encoder {configured}: "
            f"rebuild with `matcher build` or configure model '{manifest.model_id}'"
        )
    if kind is not None and str(kind) != manifest.kind:
        raise IndexMismatchError(
            f"{where} holds '{manifest.kind}' records but '{kind}' records were expected: "
            f"rebuild with `matcher build` or point to the {kind} index"
        )
    recorded = manifest.params.get("segmenter")
    if segmenter is not None and recorded and dict(recorded) != dict(segmenter):
        differ = sorted(k for k in set(recorded) | set(segmenter) if recorded.get(k) != segmenter.get(k))
        shown = ", ".join(f"{k}: index {recorded.get(k)!r}, configured {segmenter.get(k)!r}" for k in differ)
        raise IndexMismatchError(
            f"{where} was segmented with other settings ({shown}): its BM25 terms would not match the queries'; "
            "configure the index's segmenter (e.g. segment_mode) or rebuild with `matcher build`"
        )


def current_versions() -> dict[str, str]:
    """Versions of Python, the numeric / NLP libraries and this package, for the manifest.

    Libraries are looked up through package metadata (nothing heavy is imported); a missing one
    is reported as "not installed".

    Returns:
        Mapping name -> version string.
    """
    from matcher import __version__

    versions = {"python": platform.python_version()}
    for name, dist in _DISTRIBUTIONS.items():
        try:
            versions[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["matcher"] = __version__
    return versions


def data_hash(ids: Iterable, texts: Iterable[str]) -> str:
    """Order-independent SHA-256 of (id, text) pairs: equal for the same records in any order.

    Each pair is encoded as a JSON array on its own line, so ids and texts containing tabs or
    newlines cannot collide; pairs are sorted by (str(id), text) first.

    Args:
        ids: record ids (converted with `str`).
        texts: the indexed texts, aligned with `ids`.

    Returns:
        The hex digest.

    Raises:
        ValueError: `ids` and `texts` have different lengths.
    """
    id_list = [str(i) for i in ids]
    text_list = [str(t) for t in texts]
    if len(id_list) != len(text_list):
        raise ValueError(f"data_hash: {len(id_list)} ids but {len(text_list)} texts")
    digest = hashlib.sha256()
    for pair in sorted(zip(id_list, text_list)):
        digest.update(json.dumps(pair, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def utc_now() -> str:
    """Current UTC time as ISO-8601 with seconds precision, for `Manifest.built_at`.

    Returns:
        E.g. "2024-05-01T12:00:00+00:00".
    """
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
