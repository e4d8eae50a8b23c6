"""Pure-numpy metrics (no mteb): exact ranks, the Max@R family, mAP, Semantic Affinity."""
