"""officer's document requests survive the applicant's replies

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:50:00

application.requested_docs (JSON list) and application.officer_note: what an officer
asked for with `sikm request-docs`, kept until those documents arrive.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("requested_docs", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("officer_note", sa.String(), nullable=False, server_default="")
        )


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.drop_column("officer_note")
        batch_op.drop_column("requested_docs")
