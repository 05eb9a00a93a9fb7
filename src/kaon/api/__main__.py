from kaon.api.server import main

main()
