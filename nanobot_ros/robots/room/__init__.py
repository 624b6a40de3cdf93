"""A JetBot-like robot in a 3-D MuJoCo room (world.py), the MJCF written here (mjcf.py)."""
