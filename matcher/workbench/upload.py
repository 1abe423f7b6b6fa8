"""Uploaded CSV / XLSX tables of patents or enterprises / demands: validated as the CLI does, previewed, upserted."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from matcher.errors import InputError
from matcher.ingest import LoadResult, load_records
from matcher.schema import Kind
from matcher.workbench.index_writes import upsert_records

TYPES = ["csv", "tsv", "xlsx", "xlsm"]  # what the uploader accepts (the CLI's table formats officers use)


@dataclass
class UploadPreview:
    """A validated upload: its records, which ids are new and which replace stored ones, and what was skipped."""

    kind: Kind
    result: LoadResult
    new_ids: list[str]
    replaced_ids: list[str]

    def summary(self) -> str:
        """What saving it would do, in Chinese."""
        return (f"共读取 {self.result.rows_read} 行：将新增 {len(self.new_ids)} 条、替换 {len(self.replaced_ids)} 条（编号已存在），"
                f"跳过 {len(self.result.skipped)} 行")


def read_upload(name: str, data: bytes, kind: Kind, sheet: str | None = None) -> LoadResult:
    """Validate an uploaded table exactly as `matcher upsert` does (same reader, same checks, same messages).

    Args:
        name: the uploaded file's name (its extension picks the reader; messages name it).
        data: its bytes.
        kind: patents or enterprises / demands.
        sheet: XLSX only: the sheet (the first when None or empty).

    Raises:
        InputError: the file cannot be read or fails validation (the message names the file, row and column).
    """
    safe = re.sub(r"[\\/:*?\"<>|\x00-\x1f]", "_", Path(name).name) or "upload.csv"
    with tempfile.TemporaryDirectory(prefix="matcher-upload-") as tmp:
        path = Path(tmp) / safe
        path.write_bytes(data)
        try:
            result = load_records(path, kind, sheet=sheet or None)
        except InputError as exc:  # named by the uploaded file's name, not the temporary copy's path
            raise InputError(exc.message, file=safe, row=exc.row, column=exc.column, hint=exc.hint) from None
    result.file = safe
    return result


def preview(result: LoadResult, stored_ids: set[str]) -> UploadPreview:
    """Which of the validated records are new and which replace stored ones."""
    ids = result.frame["id"].astype(str).tolist()
    return UploadPreview(result.kind, result, [i for i in ids if i not in stored_ids], [i for i in ids if i in stored_ids])


def apply(upload: UploadPreview) -> tuple[int, int]:
    """Upsert the records into the served index (under the writers' lock; the cached engine is dropped).

    Returns:
        (added, replaced).
    """
    return upsert_records(upload.kind, upload.result.frame)
