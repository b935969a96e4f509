"""practice attempts graded as grade runs: one grading job for hiring and practice

Revision ID: 91146d5aaade
Revises: 0e0f974b3f2b
Create Date: 2026-12-03 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '91146d5aaade'
down_revision = '0e0f974b3f2b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('grade_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('practice_attempt_id', sa.Integer(), nullable=True))
        batch_op.alter_column('submission_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_grade_run_practice_attempt_id'), ['practice_attempt_id'])
        batch_op.create_foreign_key(batch_op.f('fk_grade_run_practice_attempt_id_practice_attempt'), 'practice_attempt', ['practice_attempt_id'], ['id'])
        # Not detected by autogenerate: a run grades exactly one submission or practice attempt.
        batch_op.create_check_constraint(
            batch_op.f('ck_grade_run_one_subject'), '(submission_id IS NULL) <> (practice_attempt_id IS NULL)'
        )

    # Notebook attempts still waiting for a grade get the queued run that now grades them; created
    # when they were submitted, so the next sweep enqueues them. Graded ones keep their feedback.
    op.execute(
        "INSERT INTO grade_run (practice_attempt_id, grader_version, case_version, status, attempts, created_at) "
        "SELECT practice_attempt.id, '1.0', \"case\".content_hash, 'queued', 0, practice_attempt.submitted_at "
        "FROM practice_attempt JOIN practice ON practice.id = practice_attempt.practice_id "
        "JOIN \"case\" ON \"case\".id = practice.case_id "
        "WHERE practice_attempt.status = 'queued' AND practice_attempt.sha256 IS NOT NULL"
    )


def downgrade():
    # Practice attempts go back to being graded by their own task; a queued one is found again by
    # that version's sweep, a graded one keeps its feedback on the attempt.
    op.execute("DELETE FROM grade_run WHERE practice_attempt_id IS NOT NULL")
    with op.batch_alter_table('grade_run', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_grade_run_one_subject'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_grade_run_practice_attempt_id_practice_attempt'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_grade_run_practice_attempt_id'), type_='unique')
        batch_op.alter_column('submission_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('practice_attempt_id')
