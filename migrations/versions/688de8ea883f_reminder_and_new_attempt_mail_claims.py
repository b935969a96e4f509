"""reminder and new-attempt mail claims: scorecard and deadline reminders, the mentor mail's hourly limit

Revision ID: 688de8ea883f
Revises: e3a9c41d7b52
Create Date: 2026-12-03 13:40:00.000000

"""
from datetime import UTC, datetime, timedelta

from alembic import op
import sqlalchemy as sa

import assessments.models.types


# revision identifiers, used by Alembic.
revision = '688de8ea883f'
down_revision = 'e3a9c41d7b52'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deadline_reminded_for', assessments.models.types.UTCDateTime(), nullable=True))
    with op.batch_alter_table('panel_member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scorecard_reminded_at', assessments.models.types.UTCDateTime(), nullable=True))
    with op.batch_alter_table('mentor_pairing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempt_mailed_at', assessments.models.types.UTCDateTime(), nullable=True))
    # Reminders whose moment passed before this upgrade count as sent: the first sweep after it
    # must not mail about old deadlines and old submissions. Timestamps are stored as naive UTC.
    now = datetime.now(UTC).replace(tzinfo=None)
    op.execute(
        sa.text("UPDATE invitation SET deadline_reminded_for = due_at WHERE due_at <= :soon").bindparams(
            soon=now + timedelta(hours=24)
        )
    )
    op.execute(
        sa.text(
            "UPDATE panel_member SET scorecard_reminded_at = :now WHERE invitation_id IN "
            "(SELECT invitation_id FROM submission GROUP BY invitation_id HAVING MIN(uploaded_at) <= :cutoff)"
        ).bindparams(now=now, cutoff=now - timedelta(days=2))
    )


def downgrade():
    with op.batch_alter_table('mentor_pairing', schema=None) as batch_op:
        batch_op.drop_column('attempt_mailed_at')
    with op.batch_alter_table('panel_member', schema=None) as batch_op:
        batch_op.drop_column('scorecard_reminded_at')
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_column('deadline_reminded_for')
