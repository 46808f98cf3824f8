"""Table cells on chunks (row label, column header, text; scale and unit of the table)

Revision ID: 0006_table_cells
Revises: 0005_search_backend
Create Date: 2026-12-02 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_table_cells"
down_revision = "0005_search_backend"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("table_cells", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("table_cells")
