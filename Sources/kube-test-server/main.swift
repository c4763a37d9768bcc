print("kube-test-server: not implemented yet")
