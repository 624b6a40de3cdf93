"""`nanobot grpo --phrasings`: training splits joined by +, never the held-out one."""
import pytest

from nanobot_ros.cli.grpo import main


def test_grpo_refuses_to_train_on_held_out_phrasings(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(['missing.safetensors', '--task', 'room', '--phrasings', 'train+heldout'])
    assert exit_.value.code == 2
    assert 'never train on them' in capsys.readouterr().err


def test_grpo_names_the_splits_a_task_has(tmp_path, capsys):
    # the grid's task family has no paraphrase split (the room's has)
    code = main(['missing.safetensors', '--task', 'family', '--phrasings', 'train+paraphrase',
                 '--run-dir', str(tmp_path), '--no-wandb'])
    assert code == 1
    assert capsys.readouterr().out.strip() == (
        "[ERROR] phrasings must be one of ['heldout', 'train'] or several joined by +, "
        "got 'train+paraphrase'")
