"""User-facing errors: every bad input names the file, row, column and what to do."""

from __future__ import annotations


class MatcherError(Exception):
    """Base class for errors shown to the user as one clear message (never a traceback)."""


class InputError(MatcherError):
    """Bad input data: a file that cannot be read, or a row / column that fails validation.

    Args:
        message: what is wrong, in one sentence.
        file: the input file, when known.
        row: 1-based data row number (header excluded), when the problem is in one row.
        column: the column name, when the problem is in one column.
        hint: what the user should do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column '{self.column}'")
        text = (", ".join(where) + ": " if where else "") + self.message
        if self.hint:
            text += f" -> {self.hint}"
        return text


class IndexMismatchError(MatcherError):
    """A stored index does not fit the current configuration (model, dimension, data)."""


class NotBuiltError(MatcherError):
    """An operation needs an index that has not been built yet."""
