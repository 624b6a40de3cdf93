"""The simulated robots: the toroidal dot world, the target task, action selectors."""
