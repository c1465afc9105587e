from mixfit.cli import main

main()
