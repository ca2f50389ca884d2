"""`python -m switchboard.cli`: the same command as the `switchboard` script."""

from switchboard.cli import main

main()
