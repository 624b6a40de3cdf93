"""The policy family (LeRobot-style): configuration, modeling, processing, export, runtimes."""
