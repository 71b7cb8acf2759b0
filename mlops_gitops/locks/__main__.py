import sys

from mlops_gitops.locks import main

sys.exit(main(sys.argv[1:]))
