// KubeTestServer: test Kubernetes API server (imports nothing of AccessSync).
