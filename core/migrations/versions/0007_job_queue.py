"""jobs reach workers through a queue: kind, lease owner and heartbeat on the job row; shared
login throttle

Revision ID: 0007_job_queue
Revises: 0006_table_cells
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_job_queue"
down_revision = "0006_table_cells"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingestion_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=24), server_default="ingest", nullable=False))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_ingestion_jobs_status", ["status"])
    # The old runner's "interrupted" jobs were never finished: they are dead letters now.
    op.execute("UPDATE ingestion_jobs SET status = 'dead' WHERE status = 'interrupted'")
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_failures_username", "login_failures", ["username"])
    op.create_index("ix_login_failures_at", "login_failures", ["at"])


def downgrade() -> None:
    op.drop_table("login_failures")
    with op.batch_alter_table("ingestion_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_ingestion_jobs_status")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("kind")
