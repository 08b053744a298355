"""The knowledge base's search index and the searches trainees made.

`knowledge_articles` holds each article with its index terms (segmented and lemmatised in
Python, sandbox/knowledge/terms.py); the database's own full-text search indexes them:
an FTS5 table on SQLite, a tsvector column with a GIN index on PostgreSQL. The articles
are files: the app fills the index from them at start-up, so nothing is carried over here.
`knowledge_searches` records who searched what, in which practice attempt (for mentors).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_articles",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("article_id", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("trade", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
    )
    op.create_index("ix_knowledge_articles_locale", "knowledge_articles", ["locale"])
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("knowledge_articles", sa.Column("terms", sa.dialects.postgresql.TSVECTOR))
        op.create_index(
            "ix_knowledge_articles_terms",
            "knowledge_articles",
            ["terms"],
            postgresql_using="gin",
        )
    else:
        # Terms are already words separated by spaces; unicode61 keeps a Chinese word whole.
        op.execute(
            "CREATE VIRTUAL TABLE knowledge_fts USING fts5("
            "key UNINDEXED, title, body, tokenize = 'unicode61 remove_diacritics 0')"
        )
    op.create_table(
        "knowledge_searches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempts.id"), nullable=True),
        sa.Column("query", sa.String(200), nullable=False),
        sa.Column("locale", sa.String(16), nullable=True),
        sa.Column("results", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_knowledge_searches_user_id", "knowledge_searches", ["user_id"])
    op.create_index("ix_knowledge_searches_attempt_id", "knowledge_searches", ["attempt_id"])


def downgrade() -> None:
    op.drop_index("ix_knowledge_searches_attempt_id", table_name="knowledge_searches")
    op.drop_index("ix_knowledge_searches_user_id", table_name="knowledge_searches")
    op.drop_table("knowledge_searches")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_knowledge_articles_terms", table_name="knowledge_articles")
    else:
        op.execute("DROP TABLE knowledge_fts")
    op.drop_index("ix_knowledge_articles_locale", table_name="knowledge_articles")
    op.drop_table("knowledge_articles")
