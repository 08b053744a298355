"""Persistence: SQLModel tables, the database engine and Alembic migrations."""

# Every table module is loaded with the package: `attempts.exam_id` refers to `exams`, and
# SQLAlchemy resolves a foreign key only once the table it names is on the metadata.
from sandbox.storage import audit, exams, models  # noqa: F401
