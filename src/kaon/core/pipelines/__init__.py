"""Pipelines (Pachyderm's PPS, on kaon's repos): specs, datums, jobs — pure domain.

- `spec`: a pipeline spec as kaon holds it; `parse` reads spec files (JSON/YAML) into specs,
  with `reader`, `fields` (known and ignored Pachyderm fields) and `inputs`; `specdoc` writes
  the canonical document back.
- `globs`: Pachyderm globs over a commit's listing, read lazily.
- `planning`: a job's datums from its input commits; datum ids, hashes; version salts.
- `datums`: the files one datum sees and its identity.
- `graph`: the DAG of pipelines (reads, cycles, topological order, downstream).
- `records`: pipelines, their versions, jobs and datum records, with their states and moves.
"""
