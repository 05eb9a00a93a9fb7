import sys

from kaon.extras import server_missing

if lacking := server_missing("`python -m kaon.api` (`kaon server`)"):
    sys.exit(f"Error: {lacking}")

from kaon.api.server import main

main()
