"""Domain types and pure logic: ids, addresses, trees, commits, chunking. No I/O frameworks."""
