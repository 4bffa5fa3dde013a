"""A meeting's place or online link (the .ics LOCATION), set by the forum's lead.

Revision ID: 0009_meeting_location
Revises: 0008_group_names
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_meeting_location"
down_revision = "0008_group_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("location", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("location")
