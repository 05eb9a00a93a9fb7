"""Use cases written once over the ports: chunks, trees, repos, commits, files, gc."""
