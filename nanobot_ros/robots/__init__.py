"""Robots and their action spaces: the simulated toroidal dot, the JetBot, the ESP32 protocol."""
