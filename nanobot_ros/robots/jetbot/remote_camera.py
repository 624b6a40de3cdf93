"""A JetBot's camera over the reference's RPyC protocol, as a cv2.VideoCapture look-alike.

The robot-side server (robots/jetbot/server.py) answers `root.get_camera_frame()` with the newest
frame as a base64 JPEG string (None before the first). `open_capture('rpyc://host:port')` in
robots/camera_capture.py returns an `RpycCapture`, so the camera node's stream, fitting and
reconnection work on it unchanged.
"""
import base64

import cv2
import numpy as np

from nanobot_ros.robots.camera_error import CameraError


class RpycCapture:
    """A JetBot camera over RPyC, with the part of cv2.VideoCapture's interface used here."""

    def __init__(self, url: str, timeout: float = 2.0):
        import rpyc
        host, _, port = url[len('rpyc://'):].rstrip('/').rpartition(':')
        if not host or not port.isdigit():
            raise CameraError(f'{url!r} is not rpyc://host:port')
        try:
            stream = rpyc.SocketStream.connect(host, int(port), timeout=timeout)
            self._conn = rpyc.connect_stream(stream, config={'sync_request_timeout': timeout})
        except Exception as error:  # noqa: BLE001 - socket, handshake: all mean "unreachable"
            raise CameraError(f'cannot reach the JetBot camera at {url}: {error}') from None
        self._shape = (0, 0)

    def isOpened(self) -> bool:  # noqa: N802 - cv2.VideoCapture's name
        return self._conn is not None

    def read(self):
        """Return (ok, BGR frame): ok is False when the link broke or the frame is no JPEG."""
        try:
            text = self._conn.root.get_camera_frame()
        except Exception:  # noqa: BLE001 - any failure of the link means "no frame"
            return False, None
        if not text:
            return True, None  # the robot has no frame yet
        frame = cv2.imdecode(np.frombuffer(base64.b64decode(text), np.uint8), cv2.IMREAD_COLOR)
        if frame is not None:
            self._shape = frame.shape[:2]
        return frame is not None, frame

    def get(self, prop: int) -> float:
        """Return the frame size seen so far; the frame rate is not known (0)."""
        return {cv2.CAP_PROP_FRAME_WIDTH: self._shape[1],
                cv2.CAP_PROP_FRAME_HEIGHT: self._shape[0]}.get(prop, 0.0)

    def release(self) -> None:
        """Close the connection."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken link is best effort
                pass
