from ftaudit.cli import main

main()
