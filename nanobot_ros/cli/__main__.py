"""`python -m nanobot_ros.cli <command>`: the same as `nanobot <command>`."""
import sys

from nanobot_ros.cli import main

sys.exit(main())
