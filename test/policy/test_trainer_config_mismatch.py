"""A run directory holding a checkpoint of another config refuses to train, saying why."""
from trainer_fixtures import demo_bags, run, train_command


def test_other_config_checkpoint_is_refused(tmp_path):
    data = demo_bags(tmp_path / 'demos', episodes=4)
    run_dir = tmp_path / 'run'
    first = run(train_command(data, run_dir, '--max-steps', '2'))
    assert first.returncode == 0, first.stdout + first.stderr
    second = run(train_command(data, run_dir, '--max-steps', '2', '--set', 'n_layer=2'))
    assert second.returncode == 1
    assert 'trained with a different policy config; refusing to load it: n_layer: expected ' \
        '2, file has 1' in second.stdout
