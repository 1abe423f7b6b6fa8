"""The stock of an index: its saved patent and enterprise records, read without loading the encoder or the indexes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from matcher.errors import MatcherError, NotBuiltError
from matcher.index.atomic import KeptChangingError, read_stable
from matcher.index.collection import Collection
from matcher.schema import Kind


def read_stock(index_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The patents and the enterprises (None when the index has none) saved in an index folder.

    Args:
        index_dir: the index folder.

    Returns:
        (patents, enterprises), canonical columns, row order of the index.

    Raises:
        NotBuiltError: no index, or an index without patents.
        MatcherError: the index kept changing while it was read.
    """
    def read(source: Path) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        if not (source / Kind.PATENT.value).is_dir():
            raise NotBuiltError(f"no patents indexed at {index_dir}: run `matcher build` first")
        patents = Collection.read_records(source / Kind.PATENT.value)
        enterprises = None
        if (source / Kind.ENTERPRISE.value).is_dir():
            enterprises = Collection.read_records(source / Kind.ENTERPRISE.value)
        return patents.reset_index(drop=True), (enterprises.reset_index(drop=True) if enterprises is not None else None)

    try:
        return read_stable(index_dir, read, errors=(OSError, ValueError))
    except KeptChangingError as exc:
        raise MatcherError(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise MatcherError(f"cannot read the records of the index at {index_dir} ({exc})") from None
