"""Every feature file -> /pfs/out/model.json: the total, the count and the files seen."""

import json
from pathlib import Path

features = {f.name: json.loads(f.read_text()) for f in sorted(Path("/pfs/featurize").iterdir())}
model = {
    "total": sum(d["sum"] for d in features.values()),
    "n": sum(d["n"] for d in features.values()),
    "files": sorted(features),
}
Path("/pfs/out/model.json").write_text(json.dumps(model))
