"""secret seeds: each invitation and practice says how its data seed follows from its public seed id

Revision ID: b4f0d19e6a27
Revises: 688de8ea883f
Create Date: 2026-12-03 13:40:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "b4f0d19e6a27"
down_revision = "688de8ea883f"
branch_labels = None
depends_on = None


def upgrade():
    # Rows made before secret seeds get scheme 0 (the data seed is the public id), so every existing
    # candidate and mentee keeps the data they may already have downloaded.
    for table in ("invitation", "practice"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("seed_scheme", sa.Integer(), server_default="0", nullable=False))
            batch_op.add_column(sa.Column("seed_key_id", sa.String(length=16), nullable=True))


def downgrade():
    for table in ("practice", "invitation"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("seed_key_id")
            batch_op.drop_column("seed_scheme")
