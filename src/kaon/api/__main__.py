import gc
import sys

from kaon.extras import server_missing

if lacking := server_missing("`python -m kaon.api` (`kaon server`)"):
    sys.exit(f"Error: {lacking}")

# No cyclic collection while the ~1,000 modules of a server load: each full one walked every
# object imported so far (a fifth of the start's CPU). Start-up leaves ~1,200 cyclic garbage
# objects (~7,700 on a fresh home), frozen with the rest by main() (gc.freeze), which then
# turns the collector back on: a gc.collect() to drop them would cost ~0.12 s.
gc.disable()

from kaon.api.server import main  # noqa: E402 - after gc.disable

main()
