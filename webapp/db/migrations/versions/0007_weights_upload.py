"""weights_upload: backbone weights files uploaded by an admin, checked by a worker

Revision ID: 0007_weights_upload
Revises: 0006_suggestions
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_weights_upload"
down_revision = "0006_suggestions"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "weights_upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("backbone", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("path", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("weights_upload", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_weights_upload_status"), ["status"], unique=False)


def downgrade():
    with op.batch_alter_table("weights_upload", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_weights_upload_status"))
    op.drop_table("weights_upload")
