"""scorecard drafts kept apart from scorecards (autosave)

Revision ID: d8f1a6c3e2b7
Revises: f2b7c9d41e60
Create Date: 2026-12-03 14:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import assessments.models.types


# revision identifiers, used by Alembic.
revision = 'd8f1a6c3e2b7'
down_revision = 'f2b7c9d41e60'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scorecard_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('interviewer_id', sa.Integer(), nullable=False),
    sa.Column('rubric_slug', sa.String(length=80), nullable=False),
    sa.Column('rubric_version', sa.String(length=64), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('saved_at', assessments.models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['interviewer_id'], ['user.id'], name=op.f('fk_scorecard_draft_interviewer_id_user')),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitation.id'], name=op.f('fk_scorecard_draft_invitation_id_invitation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scorecard_draft')),
    sa.UniqueConstraint('invitation_id', 'interviewer_id', name=op.f('uq_scorecard_draft_invitation_id'))
    )
    with op.batch_alter_table('scorecard_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scorecard_draft_invitation_id'), ['invitation_id'], unique=False)


def downgrade():
    with op.batch_alter_table('scorecard_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scorecard_draft_invitation_id'))

    op.drop_table('scorecard_draft')
