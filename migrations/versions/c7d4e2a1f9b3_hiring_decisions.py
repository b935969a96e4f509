"""hiring decisions recorded at the debrief

Revision ID: c7d4e2a1f9b3
Revises: 5b1e7d2c9a40
Create Date: 2026-12-03 09:05:00.000000

"""
from alembic import op
import sqlalchemy as sa

import assessments.models.types


# revision identifiers, used by Alembic.
revision = 'c7d4e2a1f9b3'
down_revision = '5b1e7d2c9a40'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('hiring_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', assessments.models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_hiring_decision_decided_by_id_user')),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitation.id'], name=op.f('fk_hiring_decision_invitation_id_invitation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hiring_decision'))
    )
    with op.batch_alter_table('hiring_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hiring_decision_invitation_id'), ['invitation_id'], unique=False)


def downgrade():
    with op.batch_alter_table('hiring_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hiring_decision_invitation_id'))

    op.drop_table('hiring_decision')
