"""suggestions: the instant suggestion model's guess per photo, and what people did with it

Revision ID: 0006_suggestions
Revises: 0005_deleted_class
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_suggestions"
down_revision = "0005_deleted_class"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "suggestion",
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("shown_label", sa.String(length=64), nullable=True),
        sa.Column("verdict", sa.String(length=8), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["photo_id"], ["photo.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("photo_id"),
    )
    op.create_index("ix_suggestion_confidence", "suggestion", ["confidence"])
    op.create_index("ix_suggestion_verdict", "suggestion", ["verdict"])


def downgrade():
    op.drop_index("ix_suggestion_verdict", table_name="suggestion")
    op.drop_index("ix_suggestion_confidence", table_name="suggestion")
    op.drop_table("suggestion")
