"""In-memory metadata backend: every metadata port over dicts behind one lock (`memory://`).

The reference for the contract suites in kaon.testing and the backend of fast service unit
tests; nothing survives the process.
"""
