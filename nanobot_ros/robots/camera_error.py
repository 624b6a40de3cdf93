"""CameraError: what every camera source raises when it cannot be opened or read.

Its own module so that the generic capture (robots/camera_capture.py) and the family-specific
sources it dispatches to (robots/jetbot/remote_camera.py) both import it without a cycle.
"""


class CameraError(RuntimeError):
    """A camera source could not be opened."""
