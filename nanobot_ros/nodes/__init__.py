"""ROS 2 nodes: one file per node, thin wiring around the modules that hold the algorithms."""
