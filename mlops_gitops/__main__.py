from mlops_gitops.cli import main

raise SystemExit(main())
