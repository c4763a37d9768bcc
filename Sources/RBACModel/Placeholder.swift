// RBACModel: pure values and planning.
