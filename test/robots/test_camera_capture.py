"""Camera capture without ROS: source kinds, fitting, file playback, retries with backoff."""
import threading
import time

import numpy as np
import pytest

from camera_video import write_video
from nanobot_ros.robots.camera_capture import (CameraConfig, CameraError, CameraStream,
                                               csi_output_size, csi_pipeline, fit_frame,
                                               has_gstreamer,
                                               open_capture, source_kind)


def test_source_kinds():
    assert source_kind('0') == source_kind('/dev/video2') == 'device'
    assert source_kind(csi_pipeline()) == 'pipeline'
    assert source_kind('clip.mp4') == 'file'
    with pytest.raises(ValueError):
        source_kind('  ')


def test_csi_pipeline_keeps_the_sensor_aspect_ratio_for_crop():
    pipeline = csi_pipeline(224, 224, 30, 'crop')
    assert 'width=1280, height=720, format=NV12, framerate=30/1' in pipeline
    # 16:9 scaled to cover 224x224: 400x224 (398.2 up to even), never 224x224 (squashed).
    assert 'nvvidconv flip-method=0 ! video/x-raw, width=400, height=224, format=BGRx' in pipeline
    assert csi_output_size(400, 100) == (400, 226)        # wider than 16:9: width decides
    assert csi_output_size(224, 224, 'stretch') == (224, 224)
    assert csi_output_size(0, 0) == (1280, 720)            # 0 = as captured
    with pytest.raises(ValueError, match='fit must be'):
        csi_output_size(224, 224, 'zoom')


def test_crop_keeps_the_centre_without_distortion():
    frame = np.zeros((100, 200, 3), np.uint8)      # BGR, twice as wide as tall
    frame[:, 50:150] = (0, 255, 0)                 # the centre square is green
    out = fit_frame(frame, 40, 40, 'crop')
    assert out.shape == (40, 40, 3)
    assert (out == (0, 255, 0)).all()              # only the centre survives
    stretched = fit_frame(frame, 40, 40, 'stretch')
    assert (stretched[:, 0] == 0).all() and (stretched[:, 20] == (0, 255, 0)).all()


def test_colour_order_and_channel_layouts():
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 2] = 255                               # red in OpenCV's BGR
    assert (fit_frame(bgr, 0, 0) == (255, 0, 0)).all()
    grey = np.full((4, 4), 7, np.uint8)
    assert (fit_frame(grey, 2, 2) == 7).all()
    bgra = np.dstack([bgr, np.full((4, 4), 255, np.uint8)])
    assert fit_frame(bgra, 4, 4).shape == (4, 4, 3)
    with pytest.raises(ValueError, match='dtype'):
        fit_frame(np.zeros((4, 4, 3), np.float32), 4, 4)


@pytest.mark.skipif(has_gstreamer(), reason='this OpenCV has GStreamer')
def test_pipeline_without_gstreamer_says_why():
    with pytest.raises(CameraError, match='without GStreamer'):
        open_capture(csi_pipeline())


def run_stream(config, until, timeout=10.0):
    """Run a CameraStream in a thread until until(frames, stream); return frames, logs, stream."""
    frames, logs = [], []
    stream = CameraStream(config, lambda rgb, stamp: frames.append((rgb, stamp)),
                          lambda level, text: logs.append((level, text)))
    stop = threading.Event()
    thread = threading.Thread(target=stream.run, args=(stop,))
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(frames, stream):
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    return frames, logs, stream


def test_file_plays_at_its_rate_in_rgb_and_loops(tmp_path):
    video = write_video(tmp_path / 'clip.avi', frames=8, fps=40.0)
    config = CameraConfig(source=str(video), width=64, height=48, loop=True)
    frames, logs, stream = run_stream(config, lambda f, s: len(f) >= 30)
    assert len(frames) >= 30 and stream.loops >= 3
    rgb, stamp = frames[-1]
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    assert rgb[24, 2, 0] > 200 and rgb[24, 2, 2] < 50     # left: red, in RGB order
    assert rgb[24, 61, 2] > 200 and rgb[24, 61, 0] < 50   # right: blue
    stamps = [s for _, s in frames]
    assert stamps == sorted(stamps) and abs(stamps[-1] - time.time()) < 5
    span = stamps[-1] - stamps[0]
    assert 25 < (len(frames) - 1) / span < 50, (len(frames) - 1) / span  # paced at ~40 fps
    assert stream.source_fps == pytest.approx(40.0)


def test_file_without_loop_finishes(tmp_path):
    video = write_video(tmp_path / 'clip.avi', frames=5, fps=100.0)
    frames, logs, stream = run_stream(CameraConfig(source=str(video), width=32, height=32),
                                      lambda f, s: s.state == 'finished')
    assert len(frames) == 5 and stream.state == 'finished'
    assert any('end of video file' in text for _, text in logs)


def test_missing_source_is_retried_with_backoff_until_it_appears(tmp_path):
    video = tmp_path / 'later.avi'
    config = CameraConfig(source=str(video), width=32, height=32, retry_initial=0.05,
                          retry_max=0.2)

    def appear_after_five_failures(frames, stream):
        if stream.open_failures >= 5 and not video.exists():
            write_video(tmp_path / 'writing.avi', frames=5).rename(video)
        return len(frames) >= 3

    frames, logs, stream = run_stream(config, appear_after_five_failures)
    errors = [text for level, text in logs if level == 'error']
    assert errors[0].startswith(f'video file {video} does not exist; retrying in 0.05 s')
    delays = [text.split('retrying in ')[1].split(' s')[0] for text in errors]
    assert delays[:5] == ['0.05', '0.10', '0.20', '0.20', '0.20']
    assert len(frames) >= 3 and stream.backoff.failures == 0
