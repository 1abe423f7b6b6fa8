"""Sectors (产业细分领域): GB/T 4754 门类 / 大类 for patents and enterprises, and the province's key industry chains."""

from matcher.sectors.assign import SECTOR_COLUMNS, assign_sectors
from matcher.sectors.chains import Chain, chains_of, load_chains
from matcher.sectors.classifier import TextClassifier
from matcher.sectors.gbt4754 import SECTIONS, parse_sector, section_code
from matcher.sectors.ipc import ipc_sector
from matcher.sectors.model import SectorModel

__all__ = [
    "SECTIONS",
    "SECTOR_COLUMNS",
    "Chain",
    "SectorModel",
    "TextClassifier",
    "assign_sectors",
    "chains_of",
    "ipc_sector",
    "load_chains",
    "parse_sector",
    "section_code",
]
