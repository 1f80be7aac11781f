"""``python -m shapecheck`` runs the command line."""

from shapecheck.cli import main

raise SystemExit(main())
