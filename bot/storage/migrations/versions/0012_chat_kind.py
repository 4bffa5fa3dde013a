"""outbox: the chat's kind (private or group) is a field, filled in by whoever addresses the row

Revision ID: 0012_chat_kind
Revises: 0011_web
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_chat_kind"
down_revision = "0011_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_kind", sa.String(length=8), server_default="private", nullable=False))
    # Rows written before the field existed: Telegram's group chats are the negative ids (the one
    # place this channel fact is read off an id, once, here).
    op.execute(
        sa.text("UPDATE outbox SET chat_kind = 'group' WHERE channel = 'telegram' AND chat_id LIKE '-%'")
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("chat_kind")
