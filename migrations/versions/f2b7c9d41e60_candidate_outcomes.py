"""candidate outcomes: hired, start date, performance ratings (for the validity report)

Revision ID: f2b7c9d41e60
Revises: f2a7c9e41b05
Create Date: 2026-12-03 14:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import assessments.models.types


# revision identifiers, used by Alembic.
revision = 'f2b7c9d41e60'
down_revision = 'f2a7c9e41b05'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outcome',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('hired', sa.Boolean(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('rating_6m', sa.Double(), nullable=True),
    sa.Column('rating_12m', sa.Double(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', assessments.models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidate.id'], name=op.f('fk_outcome_candidate_id_candidate')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_outcome_recorded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outcome')),
    sa.UniqueConstraint('candidate_id', name=op.f('uq_outcome_candidate_id'))
    )


def downgrade():
    op.drop_table('outcome')
