"""`python -m microfactory` runs the CLI."""

from microfactory.cli.main import main

main()
