"""OCR provenance on chunks, per-base OCR switch, in-file progress of jobs

Revision ID: 0004_ocr_provenance
Revises: 0003
Create Date: 2026-12-01 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_ocr_provenance"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("ocr_confidence", sa.Float(), nullable=True))
    with op.batch_alter_table("knowledge_bases") as batch:
        batch.add_column(sa.Column("ocr_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("ingestion_jobs") as batch:
        batch.add_column(sa.Column("current", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ingestion_jobs") as batch:
        batch.drop_column("current")
    with op.batch_alter_table("knowledge_bases") as batch:
        batch.drop_column("ocr_enabled")
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("ocr_confidence")
