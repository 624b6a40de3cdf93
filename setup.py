"""ament_python package nanobot_ros: nodes, models, robots and data tools."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'nanobot_ros'

# One console script per node; ROS finds them in lib/nanobot_ros (see setup.cfg).
NODES = {
    'sim': 'nanobot_ros.nodes.sim:main',
    'runner': 'nanobot_ros.nodes.runner:main',
    'esp32_bridge': 'nanobot_ros.nodes.esp32_bridge:main',
    'esp32_emulator': 'nanobot_ros.nodes.esp32_emulator:main',
    'camera': 'nanobot_ros.nodes.camera:main',
    'jetbot': 'nanobot_ros.nodes.jetbot:main',
    'room': 'nanobot_ros.nodes.room:main',
    'expert': 'nanobot_ros.nodes.expert:main',
    'kernel': 'nanobot_ros.nodes.kernel:main',
    'policy': 'nanobot_ros.nodes.policy:main',
    'trainer': 'nanobot_ros.nodes.trainer:main',
    'arbiter': 'nanobot_ros.nodes.arbiter:main',
    'recorder': 'nanobot_ros.nodes.recorder:main',
    'replay': 'nanobot_ros.nodes.replay:main',
    'world_model': 'nanobot_ros.nodes.world_model:main',
    'foxglove': 'nanobot_ros.nodes.foxglove:main',
}

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(include=[PACKAGE, PACKAGE + '.*']),
    package_data={PACKAGE + '.explorer': ['static/*']},  # the explorer's web app
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*.launch.py')),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml') + glob('config/*.rviz')
         + glob('config/*.json') + glob('config/*.xml')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='nanobot_ros developers',
    maintainer_email='nanobot@example.com',
    description='A ROS 2 node suite that turns a small robot into a learning robot.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},  # how colcon test picks pytest
    entry_points={
        'console_scripts': [f'{name} = {target}' for name, target in NODES.items()]
            + ['nanobot = nanobot_ros.cli:main'],
    },
)
