"""`python -m secbase` runs the command line."""

from secbase.cli import main

main()
