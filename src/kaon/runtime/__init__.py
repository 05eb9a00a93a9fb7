"""stdlib-only code that runs inside user environments."""
