"""The shipped corpus archive: imported from .tar.xz, once per checksum, by `bot run` and `bot laws import`."""

from __future__ import annotations

import tarfile
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from storage.db import session_scope
from storage.laws.corpus import CORPUS_DATE, SHIPPED_ARCHIVE, checksum, corpus_date, ensure_corpus, unpacked
from storage.models.laws import Law, LawCorpusImport, LawSection
from tests.laws.test_catalog import make_corpus


def make_archive(tmp_path: Path, **kwargs) -> Path:  # type: ignore[no-untyped-def]
    corpus = make_corpus(tmp_path / "src" / "thai-law", **kwargs)
    archive = tmp_path / "thai-law.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(corpus, arcname="thai-law")
    return archive


def test_shipped_archive_is_in_the_repository_and_small() -> None:
    assert SHIPPED_ARCHIVE.is_file()
    assert SHIPPED_ARCHIVE.stat().st_size < 10_000_000
    with tarfile.open(SHIPPED_ARCHIVE) as tar:
        names = tar.getnames()
    assert "thai-law/law_url_df.csv" in names and "thai-law/groups.json" in names
    assert sum(1 for n in names if n.startswith("thai-law/texts/") and n.endswith(".txt")) == 671


def test_shipped_archive_unpacks_with_the_penal_code() -> None:
    with unpacked(SHIPPED_ARCHIVE) as folder:
        assert (folder / "law_url_df.csv").read_text(encoding="utf-8").count("sysid=443287") >= 1
        assert "มาตรา ๓๔๑" in (folder / "texts" / "443287.txt").read_text(encoding="utf-8")


def test_ensure_corpus_imports_once_per_checksum(db_engine, tmp_path) -> None:
    archive = make_archive(tmp_path)
    first = ensure_corpus(db_engine, archive, workers=1)
    again = ensure_corpus(db_engine, archive, workers=1)
    assert first.imported and first.report is not None and first.report.laws == 3
    assert not again.imported and again.checksum == first.checksum == checksum(archive)
    with session_scope(db_engine) as s:
        assert s.scalar(select(func.count()).select_from(LawCorpusImport)) == 1
        assert s.scalar(select(func.count()).select_from(LawSection)) == 7
        assert s.scalar(select(func.count()).select_from(Law).where(Law.from_seed.is_(True))) >= 100  # curated catalog too
        law = s.scalar(select(Law).where(Law.sysid == "300047"))
        assert [sec.number for sec in law.sections] == ["1", "4 ทวิ"]
    changed = make_archive(tmp_path / "v2", texts={"300047": "มาตรา ๑  ช้างป่า\nมาตรา ๒  ใหม่\nมาตรา ๓  อีก"})
    assert ensure_corpus(db_engine, changed, workers=1).imported  # a new archive is imported (in place)
    with session_scope(db_engine) as s:
        law = s.scalar(select(Law).where(Law.sysid == "300047"))
        assert [sec.number for sec in law.sections] == ["1", "2", "3"]
        assert s.scalar(select(func.count()).select_from(Law).where(Law.sysid.is_not(None))) == 3


def test_missing_archive_is_not_fatal(sqlite_engine, tmp_path) -> None:
    status = ensure_corpus(sqlite_engine, tmp_path / "nope.tar.xz")
    assert not status.imported and status.checksum == ""


def test_archive_members_outside_the_corpus_are_ignored(tmp_path) -> None:
    archive = tmp_path / "evil.tar.xz"
    corpus = make_corpus(tmp_path / "c")
    (tmp_path / "outside.txt").write_text("x", encoding="utf-8")
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(corpus, arcname=".")
        tar.add(tmp_path / "outside.txt", arcname="../../outside-texts/evil.txt")
    with unpacked(archive) as folder:
        assert sorted(p.name for p in (folder / "texts").iterdir()) == ["300047.txt", "556460.txt", "642571.txt"]


def test_cli_imports_an_archive_and_reports_status(tmp_path, monkeypatch) -> None:
    from bot.cli import cli
    from common.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    runner = CliRunner()
    archive = make_archive(tmp_path)
    result = runner.invoke(cli, ["laws", "import", str(archive), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "imported 3 laws" in result.output
    status = runner.invoke(cli, ["laws", "status"])
    assert status.exit_code == 0 and "thai-law.tar.xz" in status.output and ", 7 sections" in status.output


def test_corpus_date_is_recorded_for_the_shipped_archive(sqlite_engine, tmp_path, monkeypatch) -> None:
    import storage.laws.corpus as corpus

    archive = make_archive(tmp_path)
    ensure_corpus(sqlite_engine, archive, workers=1)  # via ensure_corpus: the shipped corpus's date
    with session_scope(sqlite_engine) as s:
        assert corpus_date(s) == CORPUS_DATE == corpus.CORPUS_DATE


def test_a_broken_archive_does_not_stop_start_up(sqlite_engine, tmp_path, monkeypatch) -> None:
    import storage.laws.corpus as corpus

    broken = tmp_path / "thai-law.tar.xz"
    broken.write_bytes(b"not an archive")
    monkeypatch.setattr(corpus, "SHIPPED_ARCHIVE", broken)
    monkeypatch.setattr(corpus.ensure_corpus, "__defaults__", (broken,))
    said: list[str] = []
    assert corpus.ensure_corpus_at_startup(sqlite_engine, echo=said.append) is None
    assert any("curated catalog only" in line for line in said)
    with session_scope(sqlite_engine) as s:
        assert s.scalar(select(func.count()).select_from(LawCorpusImport)) == 0


def test_an_act_listed_as_enacted_and_consolidated_keeps_the_consolidated_text(db_engine, tmp_path) -> None:
    from storage.laws.importer import import_corpus

    lottery = "พระราชบัญญัติสำนักงานสลากกินแบ่งรัฐบาล พ.ศ. 2517"
    corpus = make_corpus(tmp_path / "corpus", extra_rows=[
        {"title": f"{lottery} (ฉบับ Update ล่าสุด)", "law_url": "https://example.invalid/new", "sub_law_url": "", "sysid": "729983",
         "law_group": "การเงิน", "law_type": "พระราชบัญญัติ"},
        {"title": lottery, "law_url": "https://example.invalid/old", "sub_law_url": "", "sysid": "306157",
         "law_group": "สลาก", "law_type": "พระราชบัญญัติ"},
    ], texts={"729983": "มาตรา ๑ ฉบับปัจจุบัน\nมาตรา ๒ แก้ไขแล้ว", "306157": "มาตรา ๑ ฉบับเดิม"})
    report = import_corpus(db_engine, corpus, workers=1)
    assert any(line.startswith("306157: same law as 729983") for line in report.skipped)
    with session_scope(db_engine) as s:
        law = s.scalar(select(Law).where(Law.title == lottery))
        assert law.sysid == "729983" and law.url == "https://example.invalid/new"
        assert [sec.text for sec in law.sections] == ["มาตรา ๑ ฉบับปัจจุบัน", "มาตรา ๒ แก้ไขแล้ว"]
        assert sorted(law.groups) == ["การเงิน", "สลาก"]
