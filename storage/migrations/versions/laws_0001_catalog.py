"""Law catalog with full-text indexes (FTS5 on SQLite, tsvector + GIN on PostgreSQL).

Revision ID: laws_0001
Revises: 0001_base
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "laws_0001"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "laws",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sysid", sa.String(20)),
        sa.Column("title", sa.String(400), nullable=False),
        sa.Column("title_key", sa.String(400), nullable=False),
        sa.Column("law_type", sa.String(60), nullable=False),
        sa.Column("year_be", sa.Integer()),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("agency", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("url", sa.String(400), nullable=False),
        sa.Column("from_seed", sa.Boolean(), nullable=False),
        sa.Column("from_corpus", sa.Boolean(), nullable=False),
        sa.Column("title_terms", sa.Text(), nullable=False),
        sa.Column("alias_terms", sa.Text(), nullable=False),
        sa.Column("keyword_terms", sa.Text(), nullable=False),
        sa.Column("summary_terms", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_laws")),
        sa.UniqueConstraint("sysid", name=op.f("uq_laws_sysid")),
        sa.UniqueConstraint("title_key", name=op.f("uq_laws_title_key")),
    )
    op.create_table(
        "law_sections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("law_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["law_id"], ["laws.id"], name=op.f("fk_law_sections_law_id_laws"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_law_sections")),
    )
    op.create_index("ix_law_sections_law", "law_sections", ["law_id", "position"])
    if op.get_bind().dialect.name == "sqlite":
        # External-content FTS5 tables kept in sync by triggers; bm25 ranks them.
        op.execute("CREATE VIRTUAL TABLE law_fts USING fts5(title_terms, alias_terms, keyword_terms, summary_terms, "
                   "content='laws', content_rowid='id', tokenize='unicode61 remove_diacritics 0')")
        op.execute("CREATE VIRTUAL TABLE law_section_fts USING fts5(terms, content='law_sections', content_rowid='id', "
                   "tokenize='unicode61 remove_diacritics 0')")
        for table, fts, cols in (("laws", "law_fts", "title_terms, alias_terms, keyword_terms, summary_terms"),
                                 ("law_sections", "law_section_fts", "terms")):
            new_cols = ", ".join(f"new.{c.strip()}" for c in cols.split(","))
            old_cols = ", ".join(f"old.{c.strip()}" for c in cols.split(","))
            op.execute(f"CREATE TRIGGER {table}_ai AFTER INSERT ON {table} BEGIN "
                       f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new_cols}); END")
            op.execute(f"CREATE TRIGGER {table}_ad AFTER DELETE ON {table} BEGIN "
                       f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old_cols}); END")
            op.execute(f"CREATE TRIGGER {table}_au AFTER UPDATE ON {table} BEGIN "
                       f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old_cols}); "
                       f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new_cols}); END")
    else:
        op.execute("ALTER TABLE laws ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
                   "setweight(to_tsvector('simple', title_terms), 'A') || setweight(to_tsvector('simple', alias_terms), 'A') || "
                   "setweight(to_tsvector('simple', keyword_terms), 'B') || setweight(to_tsvector('simple', summary_terms), 'C')) STORED")
        op.execute("CREATE INDEX ix_laws_search ON laws USING gin (search_vector)")
        op.execute("ALTER TABLE law_sections ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple', terms)) STORED")
        op.execute("CREATE INDEX ix_law_sections_search ON law_sections USING gin (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("laws_ai", "laws_ad", "laws_au", "law_sections_ai", "law_sections_ad", "law_sections_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS law_section_fts")
        op.execute("DROP TABLE IF EXISTS law_fts")
    op.drop_table("law_sections")
    op.drop_table("laws")
