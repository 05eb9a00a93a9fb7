"""Pipelines (issue 15): jobs, datums, services and spouts over versioned repos."""
