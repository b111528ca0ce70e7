"""deleted classes, kept so a deleted class can be restored with its photos' labels

Revision ID: 0005_deleted_class
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_deleted_class"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "deleted_class",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=False),
        sa.Column("key", sa.Integer(), nullable=True),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_deleted_class_deleted_at", "deleted_class", ["deleted_at"])


def downgrade():
    op.drop_index("ix_deleted_class_deleted_at", table_name="deleted_class")
    op.drop_table("deleted_class")
