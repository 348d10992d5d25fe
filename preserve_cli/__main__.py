from preserve_cli.cli.app import main

main()
