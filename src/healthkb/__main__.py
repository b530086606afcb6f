from healthkb.cli import main

main()
