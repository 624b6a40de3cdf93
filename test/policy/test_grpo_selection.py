"""GRPO keeps the iteration that plays best as served on selection episodes (select_every)."""
from dataclasses import replace

import numpy as np

from nanobot_ros.policy.grpo import BEST_NAME, GRPOTrainer, policy_chooser
from nanobot_ros.policy.weights import load_policy
from nanobot_ros.robots.sim.task_family import TaskBatch
from policy_fixtures import TOY, toy_config

EPISODES = 24


def replayed(path, config) -> dict:
    """Play the selection episodes again with the policy at `path`; return both splits' success."""
    policy, _ = load_policy(path)
    seeds = list(range(config.select_seed, config.select_seed + EPISODES))
    result = {}
    for phrasings in ('train', 'heldout'):
        with TaskBatch(replace(TOY, phrasings=phrasings), EPISODES) as batch:
            success, _ = batch.play(seeds, policy_chooser(policy, config.select_temperature,
                                                          config.seed))
        result[f'select_{phrasings}'] = float(np.mean(success))
    return result


def test_the_best_selection_is_kept_with_its_figures_across_a_resume(tmp_path):
    config = toy_config(tmp_path, max_iterations=2, select_every=1, select_episodes=EPISODES,
                        select_seed=100, select_temperature=0.5)
    first = GRPOTrainer(config).run()
    best_path = tmp_path / 'grpo' / BEST_NAME
    resumed = GRPOTrainer(replace(config, max_iterations=4))
    summary = resumed.run()

    checked = [h for h in resumed.history if 'select' in h]
    assert [h['iteration'] for h in checked] == [1, 2, 3, 4]  # the resumed run's too
    for entry in checked:
        assert entry['select'] == (entry['select_train'] + entry['select_heldout']) / 2
    best = max(checked, key=lambda h: h['select'])
    assert first['best'] == max(checked[:2], key=lambda h: h['select'])
    assert summary['best'] == best
    # Found by the resumed run, and better than the last check: a file the last check had
    # overwritten would not replay to these figures.
    assert best['iteration'] == 3 and checked[-1]['select'] < best['select']
    _, checkpoint = load_policy(best_path)
    assert checkpoint.metadata['grpo_best'] == best
    # The file holds the policy that scored it: the same episodes and draws, the same figures.
    assert replayed(best_path, config) == {k: best[k] for k in ('select_train', 'select_heldout')}
