"""`python -m dialguard` runs the CLI."""

from dialguard.cli import main

main()
