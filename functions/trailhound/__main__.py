from trailhound.cli import main

raise SystemExit(main())
