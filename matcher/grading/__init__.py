"""Grading (分级分类): 技术成熟度, 应用场景, 产业化前景 and tiers with provenance; legal life, duplicates, inventory."""

from matcher.grading.duplicates import find_duplicates
from matcher.grading.grades import GRADE_COLUMNS, GRADES_FILE, grade_patents, read_grades, write_grades
from matcher.grading.maturity import LEVELS, normalize_maturity
from matcher.grading.models import DEFAULT_MODELS, GradingModels, train_models
from matcher.grading.term import is_pushable, life
from matcher.grading.tiers import TIERS, tier
from matcher.grading.verdicts import Verdicts, verdicts_by_patent

__all__ = [
    "DEFAULT_MODELS",
    "GRADES_FILE",
    "GRADE_COLUMNS",
    "LEVELS",
    "TIERS",
    "GradingModels",
    "Verdicts",
    "find_duplicates",
    "grade_patents",
    "is_pushable",
    "life",
    "normalize_maturity",
    "read_grades",
    "tier",
    "train_models",
    "verdicts_by_patent",
    "write_grades",
]
