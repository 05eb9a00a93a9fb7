"""The metadata tables (SQLAlchemy Core). Alembic migrations must produce exactly these."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from kaon.core.pipelines.records import DatumState

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

repos = Table(
    "repos",
    metadata,
    Column("name", String, primary_key=True),
    Column("created", Double, nullable=False),
    Column("description", Text, nullable=False),
)

branches = Table(
    "branches",
    metadata,
    Column("repo", String, ForeignKey("repos.name", ondelete="CASCADE"), nullable=False),
    Column("name", String, nullable=False),
    Column("head", String, nullable=True),
    PrimaryKeyConstraint("repo", "name"),
)

commits = Table(
    "commits",
    metadata,
    Column("id", String, primary_key=True),
    Column("repo", String, ForeignKey("repos.name", ondelete="CASCADE"), nullable=False),
    Column("branch", String, nullable=False),
    Column("parent", String, nullable=True),
    Column("tree", String, nullable=True),
    Column("size", BigInteger, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("message", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("started", Double, nullable=False),
    Column("finished", Double, nullable=False),
    Index(None, "repo", "id"),
)

packs = Table(
    "packs",
    metadata,
    Column("id", String, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created", Double, nullable=False),
)

chunks = Table(
    "chunks",
    metadata,
    Column("digest", String, primary_key=True),
    Column("pack", String, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("stored_len", BigInteger, nullable=False),
    Column("raw_len", BigInteger, nullable=False),
    Column("codec", Integer, nullable=False),
    Index(None, "pack"),
)

workspaces = Table(
    "workspaces",
    metadata,
    Column("name", String, primary_key=True),
    Column("created", Double, nullable=False),
    Column("author", Text, nullable=False),
    Column("current", Text, nullable=False),  # JSON: latest source/data/hyper
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String, primary_key=True),
    Column("workspace", String, ForeignKey("workspaces.name", ondelete="CASCADE"), nullable=False),
    Column("state", String, nullable=False),
    Column("created", Double, nullable=False),
    Column("doc", Text, nullable=False),  # JSON: inputs, resources, env, reason, times
    Index(None, "workspace", "created"),
    Index(None, "state"),
)

trials = Table(
    "trials",
    metadata,
    Column("job", String, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("ind", Integer, nullable=False),
    Column("state", String, nullable=False),
    Column("model_id", String, nullable=True),
    Column("doc", Text, nullable=False),  # JSON: params, metrics, model commit, times
    PrimaryKeyConstraint("job", "ind"),
    Index(None, "model_id"),
)

endpoints = Table(
    "endpoints",
    metadata,
    Column("name", String, primary_key=True),
    Column("workspace", String, ForeignKey("workspaces.name", ondelete="CASCADE"), nullable=False),
    Column("state", String, nullable=False),
    Column("created", Double, nullable=False),
    Column("doc", Text, nullable=False),  # JSON: bundle, model id, replicas, env, reason
    Index(None, "workspace", "created"),
)

endpoint_signatures = Table(  # an endpoint version's OIP signature (kaon.core.signatures)
    "endpoint_signatures",
    metadata,
    Column("name", String, ForeignKey("endpoints.name", ondelete="CASCADE"), primary_key=True),
    Column("declared", Integer, nullable=False),  # 1: its bundle declares it; 0: learned
    Column("doc", Text, nullable=False),  # JSON: {"inputs": [...], "outputs": [...]}
)

releases = Table(  # named endpoints; unique platform-wide (the gateway routes /<name>/...)
    "releases",
    metadata,
    Column("name", String, primary_key=True),
    Column("workspace", String, ForeignKey("workspaces.name", ondelete="CASCADE"), nullable=False),
    Column("created", Double, nullable=False),
    Column("doc", Text, nullable=False),  # JSON: Release.to_doc() (traffic, previous, pending)
    Index(None, "workspace"),
)

notebooks = Table(  # JupyterLabs; names unique platform-wide (the gateway routes /<name>/...)
    "notebooks",
    metadata,
    Column("name", String, primary_key=True),
    Column("workspace", String, ForeignKey("workspaces.name", ondelete="CASCADE"), nullable=False),
    Column("state", String, nullable=False),
    Column("created", Double, nullable=False),
    Column("doc", Text, nullable=False),  # JSON: Notebook.to_doc() (bundles, build, token digest)
    Index(None, "workspace", "created"),
)

prov_nodes = Table(
    "prov_nodes",
    metadata,
    Column("id", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("label", Text, nullable=False),
    Column("attrs", Text, nullable=False),  # JSON object of strings
    Column("created", Double, nullable=False),
)

prov_edges = Table(
    "prov_edges",
    metadata,
    Column("src", String, nullable=False),
    Column("dst", String, nullable=False),
    Column("kind", String, nullable=False),
    PrimaryKeyConstraint("src", "dst", "kind"),
    Index(None, "dst"),
)

s3_credentials = Table(
    "s3_credentials",
    metadata,
    Column("access_key", String, primary_key=True),
    Column("secret", String, nullable=False),  # sealed (kaon.core.sealing): SigV4 needs it back
    Column("owner", Text, nullable=False),
    Column("created", Double, nullable=False),
    Column("job", String, nullable=True),  # keys scoped to a training job
    # a job's key is narrowed to a workspace (S3Credential.scope): '*' or 'workspace:<name>'
    Column("scope", String, nullable=False, server_default="*"),
    # the user whose rights it carries (NULL: a key older than users, the admin's)
    Column("user", String, nullable=True),
    Index(None, "job"),
)

users = Table(
    "users",
    metadata,
    Column("name", String, primary_key=True),
    Column("created", Double, nullable=False),
    Column("admin", Integer, nullable=False, server_default="0"),
)

api_tokens = Table(  # only a hash of each token's secret is kept
    "api_tokens",
    metadata,
    Column("id", String, primary_key=True),
    Column("digest", String, nullable=False, unique=True),
    Column("user", String, ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("created", Double, nullable=False),
    Column("expires", Double, nullable=True),
    Column("workspace", String, nullable=True),  # a job's token: narrowed to its workspace
    Column("job", String, nullable=True),
    Index(None, "user"),
    Index(None, "job"),
)

workspace_roles = Table(
    "workspace_roles",
    metadata,
    Column("workspace", String, ForeignKey("workspaces.name", ondelete="CASCADE"), nullable=False),
    Column("user", String, ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    Column("role", String, nullable=False),
    PrimaryKeyConstraint("workspace", "user"),
    Index(None, "user"),
)

audit = Table(  # writes and permission changes, append-only (kaon audit)
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Double, nullable=False),
    Column("user", String, nullable=False),
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("workspace", String, nullable=True),
    Column("status", Integer, nullable=False),
    Column("detail", Text, nullable=False),
    Index(None, "at"),
)

upload_leases = Table(  # in-flight uploads: gc spares their pins until `expires` (kaon gc)
    "upload_leases",
    metadata,
    Column("id", String, primary_key=True),
    Column("expires", Double, nullable=False),
)

upload_pins = Table(
    "upload_pins",
    metadata,
    Column("lease", String, nullable=False),
    Column("digest", String, nullable=False),
    PrimaryKeyConstraint("lease", "digest"),
)

# -- pipelines (issue 15): global, no foreign key to repos (deleting a repo never reaches them)

pipelines = Table(
    "pipelines",
    metadata,
    Column("name", String, primary_key=True),
    Column("doc", Text, nullable=False),  # JSON: Pipeline.to_doc()
)

pipeline_versions = Table(
    "pipeline_versions",
    metadata,
    Column("pipeline", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("doc", Text, nullable=False),  # JSON: PipelineVersion.to_doc()
    PrimaryKeyConstraint("pipeline", "version"),
)

pipeline_jobs = Table(
    "pipeline_jobs",
    metadata,
    Column("pipeline", String, nullable=False),
    Column("id", String, nullable=False),  # the global id
    Column("created", Double, nullable=False),
    Column("state", String, nullable=False),
    Column("doc", Text, nullable=False),  # JSON: PipelineJob.to_doc()
    PrimaryKeyConstraint("pipeline", "id"),
    Index(None, "pipeline", "created"),
    Index(None, "id"),  # a global id's jobs, id prefixes
    Index(None, "state"),
    Index(None, "created"),
)

REUSABLE_DATUMS = (
    f"state IN ('{DatumState.SUCCESS.value}', '{DatumState.SKIPPED.value}') AND output IS NOT NULL"
)
"""The datum records whose output a new job may reuse."""

pipeline_datums = Table(
    "pipeline_datums",
    metadata,
    Column("pipeline", String, nullable=False),
    Column("job", String, nullable=False),
    Column("datum", String, nullable=False),
    Column("hash", String, nullable=False),
    Column("state", String, nullable=False),
    Column("output", String, nullable=True),  # the tree digest of its output
    Column("created", Double, nullable=False),  # its job's (-1: a job not stored)
    Column("doc", Text, nullable=False),  # JSON: DatumRecord.to_doc()
    PrimaryKeyConstraint("pipeline", "job", "datum"),
    # hash first: PostgreSQL then reads `hash IN (...)` from the index even without statistics
    Index(None, "hash", "pipeline"),
)

pipeline_reusable = Table(  # by hash, the newest reusable datum record (what a job skips)
    "pipeline_reusable",
    metadata,
    Column("pipeline", String, nullable=False),
    Column("hash", String, nullable=False),
    Column("job", String, nullable=False),
    Column("datum", String, nullable=False),
    Column("created", Double, nullable=False),
    PrimaryKeyConstraint("hash", "pipeline"),
)

# --- several servers (issue 17): kaon.core.cluster ---
cluster_servers = Table(  # the API servers sharing this database, by their heartbeats
    "cluster_servers",
    metadata,
    Column("id", String, primary_key=True),
    Column("url", String, nullable=False),
    Column("started", Double, nullable=False),
    Column("seen", Double, nullable=False),
)

cluster_claims = Table(  # live work owned by one server until `expires` (renewed by it)
    "cluster_claims",
    metadata,
    Column("kind", String, nullable=False),
    Column("key", String, nullable=False),
    Column("owner", String, nullable=False),
    Column("expires", Double, nullable=False),
    PrimaryKeyConstraint("kind", "key"),
    Index(None, "owner"),
)

# --- stagings and S3 multipart uploads in the database (issue 17, migration 0013) ---
stagings = Table(  # files of a coming commit, staged while its upload goes on
    "stagings",
    metadata,
    Column("id", String, primary_key=True),
    Column("repo", String, nullable=False),
    Column("branch", String, nullable=False),
    Column("touched", Double, nullable=False),
    Column("kind", String, nullable=False),  # kaon.ports.stagings.StagingKind
    Column("batches", Integer, nullable=False),
    Column("files", BigInteger, nullable=False),  # rows staged (a path staged again: twice)
    Index(None, "touched"),
    Index(None, "repo"),
)

staging_batches = Table(  # one batch of staged rows, JSON (kaon.db.stagings)
    "staging_batches",
    metadata,
    Column("staging", String, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("rows", Text, nullable=False),
    PrimaryKeyConstraint("staging", "seq"),
)

s3_uploads = Table(  # S3 multipart uploads (kaon.services.s3.multipart); parts in the store
    "s3_uploads",
    metadata,
    Column("id", String, primary_key=True),
    Column("bucket", String, nullable=False),
    Column("key", String, nullable=False),
    Column("created", Double, nullable=False),
    Column("owner", String, nullable=False),
    Column("transaction", String, nullable=False),
    Column("meta", Text, nullable=False),
    Column("completed", Double),  # when it was completed (its answer kept for a retry)
    Column("answer", Text),
    Index(None, "bucket"),
)

s3_upload_parts = Table(  # one row per part; its bytes are object `object` of the store
    "s3_upload_parts",
    metadata,
    Column("upload", String, nullable=False),
    Column("number", Integer, nullable=False),
    Column("etag", String, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("modified", Double, nullable=False),
    Column("checksums", Text, nullable=False),
    Column("object", String, nullable=False),
    PrimaryKeyConstraint("upload", "number"),
)

# --- replica placement (issue 17, migration 0014) ---
replica_placements = Table(  # where each endpoint version's replicas run (kaon.core.placement)
    "replica_placements",
    metadata,
    Column("endpoint", String, primary_key=True),
    Column("server", String, nullable=False),
    Column("url", String, nullable=False),
    Column("addresses", String, nullable=False),  # a JSON list of URLs
    Column("updated", Double, nullable=False),
)

# --- metadata at scale (issue 17, migration 0015) ---
