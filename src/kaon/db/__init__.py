"""Metadata database backend: SQLAlchemy Core on SQLite (default) or PostgreSQL, with Alembic."""
