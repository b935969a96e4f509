"""timed invitations (the clock starts at the first download) and blind first read

Revision ID: 5b1e7d2c9a40
Revises: 04cf14624075
Create Date: 2026-12-03 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import assessments.models.types


# revision identifiers, used by Alembic.
revision = '5b1e7d2c9a40'
down_revision = '04cf14624075'
branch_labels = None
depends_on = None


def upgrade():
    # Invitations made before this stay untimed and named: blind reads are the default for new ones only.
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timed', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('first_downloaded_at', assessments.models.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('blind_first_read', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_column('blind_first_read')
        batch_op.drop_column('first_downloaded_at')
        batch_op.drop_column('timed')
