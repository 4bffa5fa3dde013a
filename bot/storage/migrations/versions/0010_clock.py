"""clock: the deployment's simulated clock (one row while FORUMBOT_SIMULATED_CLOCK moves it)

Revision ID: 0010_clock
Revises: 0009_meeting_location
Create Date: 2026-12-03 06:20:00
"""

from alembic import op
import sqlalchemy as sa
import bot.storage.types


revision = '0010_clock'
down_revision = '0009_meeting_location'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('simulated_clock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', bot.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('set_at', bot.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_simulated_clock'))
    )


def downgrade() -> None:
    op.drop_table('simulated_clock')
