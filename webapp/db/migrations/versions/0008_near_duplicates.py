"""near-duplicate groups: a fingerprint and a group per photo

Existing photos are fingerprinted and grouped as the app starts (or by `flask near-duplicates`).

Revision ID: 0008_near_duplicates
Revises: 0007_weights_upload
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_near_duplicates"
down_revision = "0007_weights_upload"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("photo") as batch:
        batch.add_column(sa.Column("fingerprint", sa.Text(), nullable=True))
        batch.add_column(sa.Column("group_id", sa.Integer(), nullable=True))
    op.create_index("ix_photo_group_id", "photo", ["group_id"])


def downgrade():
    op.drop_index("ix_photo_group_id", table_name="photo")
    with op.batch_alter_table("photo") as batch:
        batch.drop_column("group_id")
        batch.drop_column("fingerprint")
