"""knowledge bases record their search backend

Revision ID: 0005_search_backend
Revises: 0004_ocr_provenance
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_search_backend"
down_revision = "0004_ocr_provenance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("knowledge_bases", schema=None) as batch_op:
        # Bases that exist already were built on FAISS files: say so, never switch them silently.
        batch_op.add_column(
            sa.Column("backend", sa.String(length=16), server_default="faiss", nullable=False)
        )
        batch_op.add_column(sa.Column("store_state", sa.String(length=16), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("knowledge_bases", schema=None) as batch_op:
        batch_op.drop_column("store_state")
        batch_op.drop_column("backend")
