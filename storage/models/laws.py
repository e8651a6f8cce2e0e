"""Law catalog: one row per law (curated seed and/or imported corpus), its sections.

Search text columns hold PyThaiNLP-tokenised, normalised words joined by spaces; the
database's own full-text engine indexes them (SQLite FTS5 tables `law_fts` and
`law_section_fts`, PostgreSQL tsvector columns with GIN indexes).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, utcnow


class Law(Base):
    __tablename__ = "laws"

    id: Mapped[int] = mapped_column(primary_key=True)
    sysid: Mapped[str | None] = mapped_column(String(20), unique=True)  # the corpus id (krisdika sysid)
    title: Mapped[str] = mapped_column(String(400))
    title_key: Mapped[str] = mapped_column(String(400), unique=True)  # normalised title: matches seed and corpus
    law_type: Mapped[str] = mapped_column(String(60), default="")
    year_be: Mapped[int | None] = mapped_column()
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    agency: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(400), default="")
    from_seed: Mapped[bool] = mapped_column(default=False)
    from_corpus: Mapped[bool] = mapped_column(default=False)
    title_terms: Mapped[str] = mapped_column(Text, default="")
    alias_terms: Mapped[str] = mapped_column(Text, default="")
    keyword_terms: Mapped[str] = mapped_column(Text, default="")
    summary_terms: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    sections: Mapped[list[LawSection]] = relationship(back_populates="law", cascade="all, delete-orphan", order_by="LawSection.position")


class LawSection(Base):
    __tablename__ = "law_sections"
    __table_args__ = (Index("ix_law_sections_law", "law_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    law_id: Mapped[int] = mapped_column(ForeignKey("laws.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    number: Mapped[str] = mapped_column(String(20))  # Arabic digits: "14", "2/1"
    text: Mapped[str] = mapped_column(Text)  # original wording, cleaned, for display
    terms: Mapped[str] = mapped_column(Text, default="")

    law: Mapped[Law] = relationship(back_populates="sections")


class LawCorpusImport(Base):
    """One completed import of a corpus archive; start-up skips an archive whose checksum is here."""

    __tablename__ = "law_corpus_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    checksum: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of the archive (or of a folder's files)
    source: Mapped[str] = mapped_column(String(400))
    corpus_date: Mapped[date | None] = mapped_column()
    laws: Mapped[int] = mapped_column()
    sections: Mapped[int] = mapped_column()
    seconds: Mapped[float] = mapped_column()
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
