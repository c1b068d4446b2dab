"""`python -m trailhound`: the same as the `trailhound` command."""

from trailhound.cli import main

raise SystemExit(main())
