from kaon.api.serve import main

main()
