print("accesssync: under construction")
