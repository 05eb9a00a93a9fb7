"""ScratchFolder: a folder of the server's for request bodies while they arrive (S3 puts), each
file removed by its writer; what a stop interrupted is removed at start-up (`reset`)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path


class ScratchFolder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def reset(self) -> None:
        """At start-up: empty the folder (no writer of its files runs any more)."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)

    def new_file(self) -> Path:
        """A fresh path in the folder, for its caller to write then remove."""
        return self.root / uuid.uuid4().hex
