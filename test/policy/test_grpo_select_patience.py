"""GRPO stops after `select_patience` selection checks without a better score, on every rank."""
import json

from nanobot_ros.policy.grpo import GRPOTrainer
from policy_fixtures import grpo_command, staying_clone, toy_config, TORCHRUN_2
from trainer_fixtures import run


def first_stop(scores, patience) -> int:
    """Return the 1-based check after which `patience` checks were no better (0: never)."""
    best_at = 0
    for i, score in enumerate(scores):
        if score > scores[best_at]:
            best_at = i
        if i - best_at >= patience:
            return i + 1
    return 0


def test_the_run_stops_after_patience_checks_without_a_better_score(tmp_path):
    config = toy_config(tmp_path, max_iterations=12, select_every=1, select_episodes=24,
                        select_seed=100, select_temperature=0.5, select_patience=2)
    trainer = GRPOTrainer(config)
    summary = trainer.run()
    scores = [h['select'] for h in trainer.selections()]
    assert 0 < summary['iterations'] < config.max_iterations  # the rule stopped it
    assert summary['iterations'] == first_stop(scores, 2) == len(scores)
    assert first_stop(scores, 1) < len(scores)  # it went on after a check that was no better
    best = summary['best']
    assert summary['plateau'] == (f'selection: no better score in 2 checks (best '
                                  f'{best["select"]:.3f} at iteration {best["iteration"]})')


def test_every_rank_stops_where_rank_0_does(tmp_path):
    # Only rank 0 plays the selection episodes: a rank that went on alone would wait for the
    # others' gradients until torchrun's timeout fails the run.
    staying_clone(tmp_path / 'bc.safetensors', 1.0)
    two = run(grpo_command(tmp_path / 'bc.safetensors', tmp_path / 'two', TORCHRUN_2,
                           '--max-iterations', '8', '--select-every', '1', '--select-episodes',
                           '16', '--select-temperature', '0.5', '--select-patience', '1'))
    assert two.returncode == 0, two.stdout + two.stderr
    summary = json.loads((tmp_path / 'two' / 'summary.json').read_text())
    assert summary['world_size'] == 2 and summary['plateau'].startswith('selection: ')
    assert summary['iterations'] < 8
