"""voluntary self-identification, kept apart from the assessment

Revision ID: f2a7c9e41b05
Revises: b4f0d19e6a27
Create Date: 2026-12-03 14:05:00.000000

"""
from alembic import op
import sqlalchemy as sa

import assessments.models.types


# revision identifiers, used by Alembic.
revision = 'f2a7c9e41b05'
down_revision = 'b4f0d19e6a27'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('self_identification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('sex', sa.String(length=80), nullable=True),
    sa.Column('race_ethnicity', sa.String(length=80), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('recorded_at', assessments.models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidate.id'], name=op.f('fk_self_identification_candidate_id_candidate')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_self_identification')),
    sa.UniqueConstraint('candidate_id', name=op.f('uq_self_identification_candidate_id'))
    )


def downgrade():
    op.drop_table('self_identification')
