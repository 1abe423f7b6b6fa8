"""Lists of strings held with one object per distinct string."""

from __future__ import annotations

from matcher.text.interning import one_object_each


def _new(a: str, b: str = "") -> str:
    return "".join([a, b])  # a new object each call (an equal literal would be one object already)


def test_equal_strings_become_one_object_and_the_table_carries_over():
    table: dict[str, str] = {}
    first = one_object_each(([_new("技术", "开发")], [_new("技术开发")], [_new("软", "件")]), table)
    assert first == [["技术开发"], ["技术开发"], ["软件"]]
    assert first[0][0] is first[1][0]
    later = one_object_each(iter([[_new("软件"), _new("电", "池")]]), table)
    assert later == [["软件", "电池"]] and later[0][0] is first[2][0] and set(table) == {"技术开发", "软件", "电池"}
