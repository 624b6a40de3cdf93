"""camera: an OpenCV camera, GStreamer pipeline or video file as sensor_msgs/Image.

Topics (relative: in the node's namespace; docs/graph.md)
  camera/image_raw     (sensor_msgs/Image, rgb8, sensor-data QoS)  out: stamped at capture
  camera/camera_info   (sensor_msgs/CameraInfo, sensor-data QoS)   out: same header as the image

`source` is a device index ('0'), a device path ('/dev/video0'), a GStreamer pipeline (the
JetBot's CSI camera: `source: csi`, see robots/camera_capture.py), a JetBot's camera over the
reference's RPyC protocol from another machine ('rpyc://<robot>:18861') or a video file (`loop`
plays it again and again). Frames are centre-cropped to the aspect ratio of `width` x `height` and
resized (`fit: stretch` skips the crop). Capture runs in its own thread, so a slow or stuck
device never blocks the node's status reports.

Faults: a source that cannot be opened or stops delivering frames is logged and reopened after
a delay that doubles from `retry_initial` up to `retry_max` seconds; /diagnostics reports ERROR
with the reason until frames flow again. The node never exits because of its camera.
/diagnostics also carries the measured frame rate (`fps`) and the counters.
"""
import threading

from nanobot_ros.data.convert import frame_to_image
from nanobot_ros.contract import CAMERA_INFO, IMAGE
from nanobot_ros.nodes.common import ERROR, NanobotNode, OK, qos_profile, run, WARN
from nanobot_ros.robots.camera_capture import (CameraCalibration, CameraConfig, CameraStream,
                                               csi_pipeline)
from sensor_msgs.msg import CameraInfo, Image

# How long shutdown waits for the capture thread to leave a blocking read.
JOIN_TIMEOUT_S = 2.0

DESCRIPTIONS = {
    'source': 'device index, /dev/videoN, GStreamer pipeline (with "!"), "csi" (the JetBot '
              'camera), rpyc://host:port (a JetBot\'s camera over RPyC) or a video file',
    'width': 'published image width (px); 0 = as captured',
    'height': 'published image height (px); 0 = as captured',
    'fit': 'crop: centre-crop to the aspect ratio, then resize; stretch: resize only',
    'loop': 'play a video file again when it ends',
    'frame_rate': 'files: playback rate (0 = the file\'s own); live sources: publish at most '
                  'this rate (0 = every frame)',
    'capture_width': 'resolution requested from a device (0 = its default)',
    'capture_height': 'resolution requested from a device (0 = its default)',
    'retry_initial': 'first delay before reopening a failed source (s)',
    'retry_max': 'longest delay between reopen attempts (s); delays double up to it',
    'frame_id': 'frame_id of published messages',
    'camera_matrix': 'intrinsics K, row-major 3x3 (zeros = uncalibrated)',
    'distortion': 'plumb_bob distortion k1 k2 t1 t2 k3',
}


class CameraNode(NanobotNode):
    """Publishes the frames of a CameraStream."""

    def __init__(self):
        super().__init__('camera')
        values = self.declare_config(CameraConfig, DESCRIPTIONS, dynamic=('source',))
        if values['source'].strip() == 'csi':
            # The hardware scaler keeps the sensor's aspect ratio for crop; fit_frame crops.
            values['source'] = csi_pipeline(values['width'], values['height'],
                                            int(values['frame_rate'] or 30), values['fit'])
        self.config = CameraConfig(**values)
        calibration = CameraCalibration(**self.declare_config(CameraCalibration, DESCRIPTIONS))
        self.frame_id = calibration.frame_id
        camera_matrix = [float(v) for v in calibration.camera_matrix]
        distortion = [float(v) for v in calibration.distortion]
        if len(camera_matrix) != 9:
            raise ValueError(f'camera_matrix needs 9 values, got {len(camera_matrix)}')
        self.camera_info = CameraInfo(distortion_model='plumb_bob', d=distortion,
                                      k=camera_matrix)
        if any(camera_matrix):
            self.camera_info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
            self.camera_info.p = camera_matrix[:3] + [0.0] + camera_matrix[3:6] + [0.0] \
                + camera_matrix[6:] + [0.0]

        self.image_pub = self.create_publisher(Image, IMAGE.name, qos_profile(IMAGE))
        self.info_pub = self.create_publisher(CameraInfo, CAMERA_INFO.name,
                                              qos_profile(CAMERA_INFO))
        self.stream = CameraStream(self.config, self._publish, self.robot_log,
                                   clock=self.get_clock().now)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.stream.run, args=(self._stop,),
                                        name='camera-capture', daemon=True)
        self._thread.start()

    def _publish(self, rgb, stamp) -> None:
        msg = frame_to_image(rgb, 'rgb8')
        msg.header.stamp = stamp.to_msg()
        msg.header.frame_id = self.frame_id
        self.image_pub.publish(msg)
        self.camera_info.header = msg.header
        self.camera_info.height, self.camera_info.width = msg.height, msg.width
        self.info_pub.publish(self.camera_info)

    def status(self):
        """Report the stream's state, measured frame rate and fault counters."""
        values = self.stream.status()
        state = values['state']
        if state == 'retrying':
            return ERROR, f'camera unavailable: {values["last_error"]}', values
        if state == 'finished':
            return WARN, 'video file ended', values
        if state == 'streaming':
            return OK, f'streaming at {values["fps"]:.1f} fps', values
        return OK, state, values

    def on_shutdown(self) -> None:
        """Stop the capture thread, then publish the final status."""
        self._stop.set()
        self._thread.join(JOIN_TIMEOUT_S)
        super().on_shutdown()


def main(args=None):
    """Run the camera node."""
    raise SystemExit(run(CameraNode, args))


if __name__ == '__main__':
    main()
