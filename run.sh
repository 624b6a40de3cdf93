#!/usr/bin/env bash
# nanobot_ros entry point.
#
#   ./run.sh sim [--duration S] [...]   run the simulated stack, write runs/<timestamp>/
#   ./run.sh test [pytest args]         run the test suite
#   ./run.sh nanobot <subcommand>       the project's CLI (bag repair, train, export, ...)
#   ./run.sh <command...>               run any command inside the environment
#
# First use builds the environment (idempotent, re-done only when what it depends on changes):
# a virtualenv with the pinned dependencies of requirements/, then `colcon build` of the two
# packages (nanobot_msgs in msg/, nanobot_ros at the root), then sources install/setup.bash.
# With a ROS 2 install already sourced (ROS_DISTRO set) it uses that install instead of the
# ROS 2 wheels from PyPI.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${NANOBOT_VENV:-$ROOT/.venv}"
BASE_PYTHON="${NANOBOT_PYTHON:-python3}"
REQ="$ROOT/requirements"

# Only loopback: DDS discovery stays on this host unless the caller says otherwise.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
# W&B never talks to a server unless asked to.
export WANDB_MODE="${WANDB_MODE:-offline}"

log() { echo "[run.sh] $*" >&2; }

hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

if [ -n "${ROS_DISTRO:-}" ]; then
  MODE="ros-$ROS_DISTRO"
else
  MODE="wheels"
fi

# The ROS 2 wheels' CMake exports name the include paths of the machine they were built on
# (/opt/python/cp311-cp311/...). Point them at this venv's Python headers and numpy instead, so
# rosidl_generate_interfaces can compile nanobot_msgs' Python bindings here.
fix_wheel_cmake_paths() {
  local py_include np_include
  py_include="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  np_include="$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')"
  local build_python='/opt/python/cp3[0-9]+-cp3[0-9]+'
  { grep -rlE --include='*.cmake' "$build_python" "$VENV/share" 2>/dev/null || true; } |
  while read -r f; do
    sed -i -E \
      -e "s#$build_python/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$np_include#g" \
      -e "s#$build_python/include/python3\.[0-9]+#$py_include#g" "$f"
  done
}

# pip's output goes to log/pip-install.txt; shown only when it fails.
pip_install() {
  "$VENV/bin/pip" install "$@" >> "$ROOT/log/pip-install.txt" 2>&1 || {
    tail -30 "$ROOT/log/pip-install.txt" >&2
    log "pip install failed; full output in log/pip-install.txt"
    exit 1
  }
}

# On a ROS install, its numpy (the ABI its message bindings were compiled against), its OpenCV
# (cv_bridge's; the pinned opencv wheel needs numpy 2) and its colcon stay: the pins of those
# apply to the PyPI environment only.
ros_install_requirements() {
  grep -v -E '^(numpy|opencv-python-headless|colcon-[a-z-]+)==' "$REQ/python.txt"
}

setup_venv() {
  local stamp_file="$VENV/.nanobot-env" want
  want="$MODE $(hash_of "$REQ"/*.txt "$ROOT/run.sh")"
  if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ]; then
    return
  fi
  # A venv made for the other mode (wheels vs a ROS install) holds the wrong rclpy: start over.
  if [ -f "$stamp_file" ] && [ "$(cut -d' ' -f1 "$stamp_file")" != "$MODE" ]; then
    log "the environment in $VENV was made for $(cut -d' ' -f1 "$stamp_file"); remaking it"
    rm -rf "$VENV"
  fi
  log "setting up the environment in $VENV ($MODE); first time takes a few minutes"
  # Say what the download costs before it starts: PyPI's torch for Linux x86_64 is the CUDA
  # build, whose CUDA runtime wheels are most of the ~5.4 GB (it runs on the CPU all the same).
  if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    log "torch from PyPI is its CUDA build: several GB of downloads (nvidia-* runtime wheels)" \
      "and ~5.4 GB on disk; it runs on the CPU"
  fi
  local t0=$SECONDS
  if [ "$MODE" = wheels ]; then
    [ -x "$VENV/bin/python" ] || "$BASE_PYTHON" -m venv "$VENV"
    pip_install --upgrade pip
    pip_install -r "$REQ/ros-jazzy-wheels.txt" -r "$REQ/python.txt"
    fix_wheel_cmake_paths
  else
    # See the ROS install's rclpy and messages; keep its numpy, whose ABI its bindings need.
    [ -x "$VENV/bin/python" ] || "$BASE_PYTHON" -m venv --system-site-packages "$VENV"
    local np
    np="$("$VENV/bin/python" -c 'import numpy; print(numpy.__version__)')"
    pip_install -r <(ros_install_requirements) -c <(echo "numpy==$np")
  fi
  # The venv holds package.xml files of its own: colcon must never crawl into it.
  touch "$VENV/COLCON_IGNORE"
  echo "$want" > "$stamp_file"
  log "environment ready in $((SECONDS - t0)) s"
}

activate() {
  # shellcheck disable=SC1091
  source "$VENV/bin/activate"
  if [ "$MODE" = wheels ]; then
    export CMAKE_PREFIX_PATH="$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
    export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
    export LD_LIBRARY_PATH="$VENV/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  # The Rust kernel's ONNX Runtime backend loads the onnxruntime wheel's library at run time.
  local ort_lib
  ort_lib="$(compgen -G "$VENV/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*" |
    head -1 || true)"
  [ -z "$ort_lib" ] || export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$ort_lib}"
}

# The one colcon command that builds both packages (the root package stops colcon's crawl, so
# msg/ is named as a second base path). --symlink-install: Python edits need no rebuild.
colcon_build() {
  colcon build --symlink-install --base-paths "$ROOT" "$ROOT/msg" \
    --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF "$@"
}

build() {
  local stamp_file="$ROOT/install/.nanobot-build" want
  # The environment's stamp is part of it: new wheels or numpy mean rebuilt message bindings.
  want="$MODE $( (cd "$ROOT" && ls msg/msg launch config 2>/dev/null; cat "$VENV/.nanobot-env" \
    msg/CMakeLists.txt msg/package.xml msg/msg/* package.xml setup.py setup.cfg) | sha256sum |
    cut -c1-16)"
  if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ]; then
    return
  fi
  log "building nanobot_msgs and nanobot_ros with colcon"
  (cd "$ROOT" && colcon_build > "$ROOT/log/colcon-build.txt" 2>&1) || {
    tail -40 "$ROOT/log/colcon-build.txt" >&2
    log "colcon build failed; full output in log/colcon-build.txt"
    exit 1
  }
  echo "$want" > "$stamp_file"
}

# The Rust kernel (kernel/, docs/kernel.md): cargo build --release once per change of its
# sources, its lock file or the messages, then linked into install/ as nanobot_kernel, the
# executable `kernel: {ros__parameters: {impl: rust}}` runs. bindgen needs libclang.
build_kernel() {
  local stamp_file="$ROOT/kernel/target/.nanobot-build" want binary
  binary="$ROOT/kernel/target/release/nanobot_kernel"
  want="$MODE $( (cd "$ROOT" && cat install/.nanobot-build kernel/Cargo.toml kernel/Cargo.lock \
    kernel/build.rs kernel/build.sh && find kernel/src -type f | sort | xargs cat) | sha256sum |
    cut -c1-16)"
  if ! { [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ] && [ -x "$binary" ]; }; then
    if ! command -v cargo > /dev/null; then
      log "cargo not found: install Rust (https://rustup.rs) to build the Rust kernel"
      exit 1
    fi
    if [ -z "${LIBCLANG_PATH:-}" ] && ! compgen -G "/usr/lib/llvm-*/lib/libclang.so" > /dev/null
    then
      log "libclang not found (bindgen needs it for the Rust kernel's ROS bindings):" \
        "sudo apt-get install libclang-dev, or set LIBCLANG_PATH"
      exit 1
    fi
    log "building the Rust kernel (cargo build --release; first time takes several minutes)"
    local t0=$SECONDS
    "$ROOT/kernel/build.sh" "$VENV" "$ROOT/install" > "$ROOT/log/cargo-build.txt" 2>&1 || {
      tail -40 "$ROOT/log/cargo-build.txt" >&2
      log "cargo build failed; full output in log/cargo-build.txt"
      exit 1
    }
    echo "$want" > "$stamp_file"
    log "Rust kernel built in $((SECONDS - t0)) s"
  fi
  ln -sfn "$binary" "$ROOT/install/nanobot_ros/lib/nanobot_ros/nanobot_kernel"
}

# The room robot (robots/room/) renders headless through EGL with Mesa's software renderer
# (MUJOCO_GL=egl, llvmpipe): say what to install when its libraries are missing (never installs;
# .ci/run does). Only the room needs them, so this warns and goes on.
GL_PACKAGES="libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0"
check_gl() {
  local libs missing=""
  libs="$(ldconfig -p 2>/dev/null)"
  for lib in libEGL.so.1 libEGL_mesa.so.0 libOpenGL.so.0; do
    grep -q "$lib" <<< "$libs" || missing="$missing $lib"
  done
  compgen -G "/usr/lib/*/dri/swrast_dri.so" > /dev/null || missing="$missing swrast_dri.so"
  [ -z "$missing" ] || log "headless GL for the room robot is missing ($missing ):" \
    "sudo apt-get install $GL_PACKAGES"
}

source_install() {
  set +u
  # shellcheck disable=SC1091
  source "$ROOT/install/setup.bash"
  set -u
}

mkdir -p "$ROOT/log"
# NANOBOT_NO_SETUP=1: trust the existing venv (developers sharing one venv between worktrees).
[ -n "${NANOBOT_NO_SETUP:-}" ] || setup_venv
activate
build
build_kernel
source_install
check_gl
cd "$ROOT"

cmd="${1:-sim}"
[ $# -gt 0 ] && shift
case "$cmd" in
  sim)
    exec python -m nanobot_ros.stack --config "$ROOT/config/sim.yaml" "$@" ;;
  test)
    # The explorer's browser test needs a Chromium; say so up front rather than install it.
    command -v chromium >/dev/null ||
      log "chromium is missing: test_explorer_browser.py will fail; install it with" \
        "'apt-get install -y chromium' (Debian/Ubuntu)"
    # The whole suite unless the arguments name test files or folders themselves.
    for arg in "$@"; do
      if [ -e "${arg%%::*}" ]; then exec python -m pytest "$@"; fi
    done
    exec python -m pytest "$ROOT/test" "$@" ;;
  nanobot)
    # The installed console scripts live in lib/nanobot_ros (ROS's layout), not on PATH.
    exec python -m nanobot_ros.cli "$@" ;;
  *)
    exec "$cmd" "$@" ;;
esac
