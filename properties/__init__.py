"""The properties of SPEC section 6: invariants I1-I12 and the bounded
progress properties L1 and L2, as named predicates over the model's state."""
