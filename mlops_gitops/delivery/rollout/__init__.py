"""Online rollouts (A/B and canary) recorded as pull requests: the outcomes of each arm
(:mod:`.arms`), read from prediction logs or Prometheus (:mod:`.outcomes`), the always-valid
sequential decision over them (:mod:`.decision`), and the pull request each decision opens."""
