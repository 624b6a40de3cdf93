"""`python -m nanobot_ros.cli <command>`: what `./run.sh nanobot` runs."""
import sys

from nanobot_ros.cli import main

sys.exit(main())
