"""CodeBuild: the buildspec's structure, one batch node's work (`r2o ci node`), and a local runner."""
