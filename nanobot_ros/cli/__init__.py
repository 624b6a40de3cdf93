"""`nanobot <command> ...`: the project's command line (`./run.sh nanobot ...`).

Each command is a module with a `main(argv)`; this file only dispatches, so a command's help
and options live beside its code.
"""
import importlib
import sys

COMMANDS = {
    'sim': ('nanobot_ros.stack', 'run a stack (default config/sim.yaml) and write a run folder'),
    'jetbot-server': ('nanobot_ros.robots.jetbot.server',
                      'JetBot-side RPyC motor server with watchdog (--emulate: no robot)'),
    'demos': ('nanobot_ros.cli.demos', 'record scripted expert demonstrations as bags'),
    'train': ('nanobot_ros.cli.train', 'train the policy from bags (torchrun ok)'),
    'grpo': ('nanobot_ros.cli.grpo', 'fine-tune a cloned policy by GRPO in the sim'),
    'lora': ('nanobot_ros.cli.lora', 'adapt a trained policy to a task variant with LoRA'),
    'export': ('nanobot_ros.cli.export', 'export a policy to ONNX + safetensors'),
    'quantize': ('nanobot_ros.cli.quantize', 'int8 / ternary ONNX and GGUF exports of a policy'),
    'bag': ('nanobot_ros.cli.bag', 'bags: info, repair, export-parquet, import-parquet'),
    'world-model-replay': ('nanobot_ros.cli.world_model_replay',
                           'train the world model on recorded sessions until its loss plateaus'),
    'docs': ('nanobot_ros.cli.docs',
             'regenerate docs/nodes.md and the tables of graph.md and defaults.md'),
    'explore': ('nanobot_ros.cli.explore',
                'the session explorer: a local web app over recorded sessions'),
    'report': ('nanobot_ros.cli.report', 'write report.md / report.html of a run folder'),
}


def main(argv=None):
    """Dispatch to the command named by the first argument."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help') or argv[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        print('usage: nanobot <command> [options]\n\ncommands:')
        for name, (_module, summary) in COMMANDS.items():
            print(f'  {name:<{width}}  {summary}')
        return 0 if argv and argv[0] in ('-h', '--help') else 2
    module, _summary = COMMANDS[argv[0]]
    return importlib.import_module(module).main(argv[1:])
