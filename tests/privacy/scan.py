"""Scan every table of a database for strings (as typed, or JSON-escaped as Rasa stores Thai)."""

from __future__ import annotations

import json

from sqlalchemy import Engine, MetaData, select


def found(engine: Engine, needles: list[str]) -> list[str]:
    """Sorted 'table.column: needle' for every occurrence."""
    forms = {needle: {needle, json.dumps(needle)[1:-1]} for needle in needles}
    meta = MetaData()
    meta.reflect(engine)
    hits = set()
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                for column, value in zip(table.columns, row, strict=True):
                    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
                    for needle, variants in forms.items():
                        if any(v in text for v in variants):
                            hits.add(f"{table.name}.{column.name}: {needle}")
    return sorted(hits)
