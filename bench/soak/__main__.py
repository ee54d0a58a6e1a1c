"""``python -m bench.soak``: the command-line entry point."""

from bench.soak.run import main

raise SystemExit(main())
