"""Ingest stage: read table files and public sources into validated canonical records."""

from matcher.ingest.clean import MAX_TEXT_CHARS, CellNote, clean_text
from matcher.ingest.readers import detect_delimiter, read_table
from matcher.ingest.sources import (
    SHARED_DIR_ENV,
    SOURCES,
    Source,
    load_bdci_patents,
    load_registry_companies,
    load_source,
    load_zhibei_demands,
    load_zhibei_offers,
    shared_dir,
)
from matcher.ingest.validate import LoadResult, SkippedRow, load_records, parse_mapping, validate_frame

__all__ = [
    "MAX_TEXT_CHARS",
    "SHARED_DIR_ENV",
    "SOURCES",
    "CellNote",
    "LoadResult",
    "SkippedRow",
    "Source",
    "clean_text",
    "detect_delimiter",
    "load_bdci_patents",
    "load_records",
    "load_registry_companies",
    "load_source",
    "load_zhibei_demands",
    "load_zhibei_offers",
    "parse_mapping",
    "read_table",
    "shared_dir",
    "validate_frame",
]
