"""Runs: the snapshot's per-photo items in their own (deferred) column; the TFLite export's state

Polled run queries read training_run.dataset every 1-3 s; it held one item per labeled photo. The items move
to dataset_items, which only the training worker reads. TFLite conversion becomes a job whose state the run
row shows (tflite_state: converting, ready or failed; tflite_error; tflite_at: when it was last asked for).

Revision ID: 0003_run_items_and_tflite
Revises: 0002_import_job
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_run_items_and_tflite"
down_revision = "0002_import_job"
branch_labels = None
depends_on = None

runs = sa.table(
    "training_run",
    sa.column("id", sa.Integer),
    sa.column("dataset", sa.JSON),
    sa.column("dataset_items", sa.JSON),
)


def upgrade():
    with op.batch_alter_table("training_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tflite_state", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("tflite_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("tflite_at", sa.DateTime(timezone=True), nullable=True))
        # Last: a SQLite record is read only as far as the columns asked for.
        batch_op.add_column(sa.Column("dataset_items", sa.JSON(), nullable=True))
    conn = op.get_bind()
    for run_id, dataset in conn.execute(sa.select(runs.c.id, runs.c.dataset)).all():
        dataset = dict(dataset or {})
        items = dataset.pop("items", [])
        conn.execute(runs.update().where(runs.c.id == run_id).values(dataset=dataset, dataset_items=items))


def downgrade():
    conn = op.get_bind()
    rows = conn.execute(sa.select(runs.c.id, runs.c.dataset, runs.c.dataset_items)).all()
    for run_id, dataset, items in rows:
        conn.execute(
            runs.update().where(runs.c.id == run_id).values(dataset={**(dataset or {}), "items": items or []})
        )
    with op.batch_alter_table("training_run", schema=None) as batch_op:
        batch_op.drop_column("dataset_items")
        batch_op.drop_column("tflite_at")
        batch_op.drop_column("tflite_error")
        batch_op.drop_column("tflite_state")
