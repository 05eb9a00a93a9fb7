"""Pipelines (Pachyderm's PPS, on kaon's repos): specs, datums, jobs — pure domain.

- `spec`: a pipeline spec as kaon holds it (parsed and validated by `parse`).
- `datums`: the files one datum sees and its identity (planned by `planning`).
- `records`: pipelines, their versions, jobs and datum records, with their states and moves.
"""
