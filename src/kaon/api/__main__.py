import gc
import sys

from kaon.extras import server_missing

if lacking := server_missing("`python -m kaon.api` (`kaon server`)"):
    sys.exit(f"Error: {lacking}")

# No cyclic collection while the ~1,000 modules of a server load: each full one walked every
# object imported so far (a fifth of the start's CPU). Import leaves ~1,400 cyclic garbage
# objects; main() freezes what start-up made (gc.freeze) and turns the collector back on.
gc.disable()

from kaon.api.server import main  # noqa: E402 - after gc.disable

main()
