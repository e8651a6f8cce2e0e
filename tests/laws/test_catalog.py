"""Importer edge cases and ranking on a small fixture corpus (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from storage.db import session_scope
from storage.laws.importer import clean_text, import_corpus, split_sections
from storage.laws.search import search_laws
from storage.laws.seed import load_seed
from storage.laws.text import normalise, title_key
from storage.models.laws import Law, LawSection

COMPUTER = "พระราชบัญญัติว่าด้วยการกระทำความผิดเกี่ยวกับคอมพิวเตอร์ พ.ศ. 2550 (ฉบับ Update ล่าสุด)"
ELEPHANT = "พระราชบัญญัติสำหรับรักษาช้างป่า พระพุทธศักราช 2464"
LABOUR = "พระราชบัญญัติคุ้มครองแรงงาน พ.ศ. 2541"


def make_corpus(root: Path, *, extra_rows: list[dict] | None = None, texts: dict[str, str] | None = None) -> Path:
    (root / "texts").mkdir(parents=True)
    rows = [
        {"title": COMPUTER, "law_url": "https://example.invalid/1", "sub_law_url": "", "sysid": "556460", "law_group": "เทคโนโลยี", "law_type": "พระราชบัญญัติ"},
        {"title": COMPUTER, "law_url": "https://example.invalid/1", "sub_law_url": "", "sysid": "556460", "law_group": "อาญา", "law_type": "พระราชบัญญัติ"},
        {"title": ELEPHANT, "law_url": "", "sub_law_url": "", "sysid": "300047", "law_group": "สัตว์", "law_type": "พระราชบัญญัติ"},
        {"title": LABOUR, "law_url": "", "sub_law_url": "", "sysid": "642571", "law_group": "แรงงาน", "law_type": "พระราชบัญญัติ"},
        *(extra_rows or []),
    ]
    with (root / "law_url_df.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["title", "law_url", "sub_law_url", "sysid", "law_group", "law_type"])
        writer.writeheader()
        writer.writerows(rows)
    default = {
        "556460": "พระราชบัญญัติ\n\n\nมาตรา ๑\u00a0 พระราชบัญญัตินี้เรียกว่า\n\nมาตรา ๑๔[๑]  ผู้ใดนำเข้าสู่ระบบคอมพิวเตอร์ซึ่งข้อมูลคอมพิวเตอร์ปลอม\nมาตรา ๑๔/๑  ความผิดเพิ่มเติม",
        "300047": "มาตรา ๑  ช้างป่าเป็นสัตว์ที่ต้องรักษา\nมาตรา ๔ ทวิ  ห้ามจับช้างป่า",
        "642571": "มาตรา ๑  พระราชบัญญัตินี้\nมาตรา ๑๑๘  ให้นายจ้างจ่ายค่าชดเชยแก่ลูกจ้างซึ่งเลิกจ้าง",
    }
    for sysid, body in {**default, **(texts or {})}.items():
        (root / "texts" / f"{sysid}.txt").write_text(body, encoding="utf-8")
    return root


def test_clean_and_split() -> None:
    text = clean_text("ก\u00a0ข [๑]\n\n\n\nมาตรา ๒/๑  ข้อความ\nมาตรา ๔ ทวิ  อีก")
    assert "\u00a0" not in text and "[๑]" not in text and "\n\n\n" not in text
    assert [n for n, _ in split_sections(text)] == ["2/1", "4 ทวิ"]


def test_normalisation_of_queries() -> None:
    assert normalise("พรบ.คอม ๒๕๕๐") == "พระราชบัญญัติ คอม 2550"
    assert normalise("กฎหมาย 2019") == "กฎหมาย 2562"
    assert title_key(COMPUTER) == title_key("พระราชบัญญัติว่าด้วยการกระทำความผิดเกี่ยวกับคอมพิวเตอร์ พ.ศ.2550")


def test_import_merges_groups_splits_sections_and_is_idempotent(db_engine, tmp_path) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    first = import_corpus(db_engine, corpus, workers=1)
    second = import_corpus(db_engine, corpus, workers=1)
    assert (first.laws, first.created) == (3, 3)
    assert (second.laws, second.created, second.updated) == (3, 0, 3)
    with session_scope(db_engine) as s:
        assert s.scalar(select(func.count()).select_from(Law)) == 3
        law = s.scalar(select(Law).where(Law.sysid == "556460"))
        assert law.title == "พระราชบัญญัติว่าด้วยการกระทำความผิดเกี่ยวกับคอมพิวเตอร์ พ.ศ. 2550"
        assert sorted(law.groups) == ["อาญา", "เทคโนโลยี"] and law.year_be == 2550
        numbers = [sec.number for sec in law.sections]
        assert numbers == ["1", "14", "14/1"]
        assert s.scalar(select(func.count()).select_from(LawSection)) == 7


def test_bad_rows_and_missing_texts_are_reported(db_engine, tmp_path) -> None:
    corpus = make_corpus(tmp_path / "corpus", extra_rows=[
        {"title": "", "law_url": "", "sub_law_url": "", "sysid": "1", "law_group": "", "law_type": ""},
        {"title": "พระราชบัญญัติไม่มีไฟล์ พ.ศ. 2500", "law_url": "", "sub_law_url": "", "sysid": "999", "law_group": "", "law_type": "พระราชบัญญัติ"},
        {"title": "Not Thai", "law_url": "", "sub_law_url": "", "sysid": "abc", "law_group": "", "law_type": ""},
    ], texts={"642571": "The document that you would like to see is not found."})
    report = import_corpus(db_engine, corpus, workers=1)
    joined = "\n".join(report.skipped)
    assert "bad row" in joined and "999: text file missing" in joined and "642571: text unreadable" in joined
    with session_scope(db_engine) as s:
        assert s.scalar(select(func.count()).select_from(Law)) == 4  # the law without a file is kept


def test_import_never_half_commits(db_engine, tmp_path, monkeypatch) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    import storage.laws.importer as importer

    calls = {"n": 0}
    real = importer.year_of

    def failing(title: str):  # the third law blows up mid-transaction
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(title)

    monkeypatch.setattr(importer, "year_of", failing)
    with pytest.raises(RuntimeError):
        import_corpus(db_engine, corpus, workers=1)
    with session_scope(db_engine) as s:
        assert s.scalar(select(func.count()).select_from(Law)) == 0


def test_seed_and_corpus_meet_by_title_and_ranking_works(db_engine, tmp_path) -> None:
    with session_scope(db_engine) as s:
        seeded = load_seed(s)
    assert seeded >= 100
    import_corpus(db_engine, make_corpus(tmp_path / "corpus"), workers=1)
    with session_scope(db_engine) as s:
        law = s.scalar(select(Law).where(Law.sysid == "556460"))
        assert law.from_seed and law.from_corpus and "พ.ร.บ.คอม" in law.aliases
        assert s.scalar(select(func.count()).select_from(Law).where(Law.sysid == "556460")) == 1
        assert search_laws(s, "พ.ร.บ.คอม มาตรา ๑๔")[0].sysid == "556460"
        hit = search_laws(s, "พ.ร.บ.คอม มาตรา 14")[0]
        assert hit.sections and hit.sections[0].number == "14"
        assert search_laws(s, "PDPA")[0].title.startswith("พระราชบัญญัติคุ้มครองข้อมูลส่วนบุคคล")
        assert search_laws(s, "ช้างป่า")[0].sysid == "300047"
        assert search_laws(s, "นายจ้างไม่จ่ายค่าชดเชย")[0].sysid == "642571"
        assert search_laws(s, "โดนแก๊งคอลเซ็นเตอร์หลอกโอนเงิน")[0].title.startswith("พระราชกำหนดมาตรการป้องกันและปราบปรามอาชญากรรมทางเทคโนโลยี")
        assert search_laws(s, "กฎหมายคุ้มครองแรงงน")[0].sysid == "642571"  # a typo
        assert search_laws(s, "   ") == []


def test_cli_search_json_contract(tmp_path, monkeypatch) -> None:
    from bot.cli import cli
    from common.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    runner = CliRunner()
    result = runner.invoke(cli, ["laws", "search", "PDPA", "--json", "--limit", "3"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert 1 <= len(rows) <= 3
    assert {"sysid", "title", "score"} <= rows[0].keys()
    assert rows[0]["sysid"] is None and "ข้อมูลส่วนบุคคล" in rows[0]["title"]
    corpus = make_corpus(tmp_path / "corpus")
    imported = runner.invoke(cli, ["laws", "import", str(corpus), "--workers", "1"])
    assert imported.exit_code == 0 and "imported 3 laws" in imported.output
    rows = json.loads(runner.invoke(cli, ["laws", "search", "ช้างป่า", "--json"]).output)
    assert rows[0]["sysid"] == "300047"
