"""The UI's pages, one module per area (kaon.ui's docstring lists them)."""
