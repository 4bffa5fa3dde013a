"""group names: whether a raised issue shows its raiser's name in the forum's group chat too

Revision ID: 0008_group_names
Revises: 0007_merge
Create Date: 2026-12-03 06:37:00.327284
"""

from alembic import op
import sqlalchemy as sa


revision = '0008_group_names'
down_revision = '0007_merge'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('raised_issues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('show_name_to_group', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('raised_issues', schema=None) as batch_op:
        batch_op.drop_column('show_name_to_group')
