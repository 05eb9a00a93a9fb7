"""The `kaon` command line (Typer + Rich), a thin layer over the SDK."""
