"""lookup indexes for the intake and the officer's queue

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:00:00

Indexes only (no table changes):
- ledger (source, folder, uidvalidity, uid): the intake's "is this copy recorded?"
  lookup, once per fetched message, was a full scan of the ledger;
- ledger (moved, source, folder, uidvalidity): the start of every poll asks for the
  rows not yet moved out of the inbox, also a full scan;
- application (status, created_at): `sikm list --status S`, oldest first, reads
  only that state's rows in order.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_location", ["source", "folder", "uidvalidity", "uid"], unique=False
        )
        batch_op.create_index(
            "ix_ledger_unmoved", ["moved", "source", "folder", "uidvalidity"], unique=False
        )
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.create_index(
            "ix_application_status_created", ["status", "created_at"], unique=False
        )


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.drop_index("ix_application_status_created")
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_unmoved")
        batch_op.drop_index("ix_ledger_location")
