"""Join the KeShet and escalation branches of the history into one head.

Revision ID: 0007_merge
Revises: 0005_keshet, 0006_escalation
"""

revision = "0007_merge"
down_revision = ("0005_keshet", "0006_escalation")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
