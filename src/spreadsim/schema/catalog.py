"""Which schema section each generated file of ``conf/`` is written from."""

from __future__ import annotations


def generated_sections() -> dict[str, type]:
    """``conf``-relative path -> the schema section whose defaults that file holds."""
    sections: dict[str, type] = {}
    return sections
