"""A real slice of the shipped corpus (11 acts and codes from storage/seed/thai-law.tar.xz), imported once per module."""

from __future__ import annotations

import csv
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage.db import make_engine
from storage.laws.corpus import SHIPPED_ARCHIVE, ensure_corpus
from storage.migrate import upgrade

# Penal code, revenue code, computer crime, labour protection, land traffic, consumer protection,
# public health, condominium, land and building tax, copyright, fisheries.
SLICE = ("443287", "617709", "556460", "642571", "570840", "302495", "558814", "573031", "829030", "686804", "740072")


def build_slice(root: Path, sysids: tuple[str, ...] = SLICE) -> Path:
    """A .tar.xz in the shipped format holding only `sysids` (rows, texts and groups taken from the shipped archive)."""
    src = root / "src"
    with tarfile.open(SHIPPED_ARCHIVE) as tar:
        wanted = {"thai-law/law_url_df.csv", "thai-law/groups.json", *(f"thai-law/texts/{s}.txt" for s in sysids)}
        tar.extractall(src, members=[m for m in tar.getmembers() if m.name in wanted], filter="data")
    corpus = src / "thai-law"
    with (corpus / "law_url_df.csv").open(encoding="utf-8", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["sysid"] in sysids]
    with (corpus / "law_url_df.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    archive = root / "thai-law-slice.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(corpus, arcname="thai-law")
    return archive


@pytest.fixture(scope="module")
def law_slice_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    root = tmp_path_factory.mktemp("law-slice")
    engine = make_engine(f"sqlite:///{root / 'laws.db'}")
    upgrade(engine)
    ensure_corpus(engine, build_slice(root), workers=2)
    yield engine
    engine.dispose()
