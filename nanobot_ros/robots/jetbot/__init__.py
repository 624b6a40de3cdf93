"""The NVIDIA JetBot: motors (local or over RPyC), the robot-side RPyC server, its camera."""
