"""Alembic environment: runs on the engine handed over in `config.attributes`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine
from sqlmodel import SQLModel

# Registers every table on the metadata.
from sandbox.storage import (  # noqa: F401
    assignments,
    audit,
    calibration,
    exams,
    extra_time,
    jobs,
    knowledge,
    models,
    peer_reviews,
    questions,
    queue,
    reviews,
    throttle,
    verdicts,
)

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    engine = context.config.attributes.get("engine")
    if not isinstance(engine, Engine):
        url = context.config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no engine given and no sqlalchemy.url configured")
        engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            include_object=knowledge.outside_models,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
