"""While `./run.sh sim` runs, another rclpy process sees its camera and action topics, typed."""
import json
from pathlib import Path
import signal
import subprocess

from nanobot_msgs.msg import Action
from sensor_msgs.msg import Image

from nanobot_ros.contract import ACTION, COMMAND, IMAGE, SENSOR
from nanobot_ros.nodes.common import qos_profile
from repo_paths import ROOT


def test_run_sh_sim_is_visible_to_another_process(ros, tmp_path):
    frames, actions = [], []
    ros.node.create_subscription(Image, IMAGE.fqn(), frames.append, qos_profile(SENSOR))
    ros.node.create_subscription(Action, ACTION.fqn(), actions.append, qos_profile(COMMAND))
    # The default stack as shipped; only the world model's quality gate is opened so it acts
    # from the first frame, and its checkpoint stays in this test's folder. It runs until this
    # process has seen what it looks for, then stops as on Ctrl-C (--duration only bounds it):
    # on a busy machine the world model's start-up takes a varying share of any fixed time.
    sim = subprocess.Popen(
        [str(ROOT / 'run.sh'), 'sim', '--duration', '120', '--runs', str(tmp_path / 'runs'),
         '--set', 'world_model.reconstruction_threshold=1.0',
         '--set', 'foxglove.port=0',  # 8765 may be another stack's
         '--set', f'world_model.checkpoint_dir={tmp_path / "checkpoints"}',
         '--set', 'world_model.wandb_project=""'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def typed():
            return dict(ros.node.get_topic_names_and_types())
        assert ros.spin_until(
            lambda: len(frames) >= 3 and len(actions) >= 3 and ACTION.fqn() in typed(),
            timeout=60), (len(frames), len(actions), typed())
        types = typed()
        assert types[IMAGE.fqn()] == ['sensor_msgs/msg/Image']
        assert types[ACTION.fqn()] == ['nanobot_msgs/msg/Action']
        frame = frames[-1]
        assert (frame.encoding, frame.height, frame.width) == ('rgb8', 224, 224)
        assert actions[-1].source == 'world_model'
        sim.send_signal(signal.SIGINT)
        out, err = sim.communicate(timeout=120)
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait()
    assert sim.returncode == 0, err[-3000:]
    run_dir = Path(out.strip().splitlines()[-1])
    summary = json.loads((run_dir / 'summary.json').read_text())
    # What this process received cannot exceed what the sim says it published.
    assert len(frames) <= summary['frames'] and len(actions) <= summary['actions'], summary
    assert summary['actions'] == summary['world_model']['actions_sent'] > 0
