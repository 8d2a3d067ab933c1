"""Store adapter: SQLAlchemy tables, repositories, unit of work, Alembic migrations, and the
factory-file reader. SQLite (WAL) is the embedded default; PostgreSQL the production store."""
