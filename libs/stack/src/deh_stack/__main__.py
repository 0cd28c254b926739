from deh_stack.cli import main

raise SystemExit(main())
