"""`python -m microfactory` runs the CLI (guarded: spawned worker processes of the
job-sequence search import the main module)."""

from microfactory.cli.main import main

if __name__ == "__main__":
    main()
