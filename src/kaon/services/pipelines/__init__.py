"""Pipelines (issue 15): versions, scheduling, jobs, datums, logs, services and spouts."""
