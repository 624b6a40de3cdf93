#!/usr/bin/env bash
# Build nanobot_kernel (cargo build --release) against the ROS 2 the project runs on.
#
#   kernel/build.sh VENV INSTALL [test]   (run.sh calls this; VENV the virtualenv, INSTALL
#                                          colcon's install/; `test` runs `cargo test` instead)
#
# With a sourced ROS 2 install (ROS_DISTRO set) r2r builds against it. Otherwise against the
# PyPI Jazzy wheels in VENV: ROS_DISTRO=jazzy and AMENT_PREFIX_PATH are set for cargo only,
# a shim prefix supplies the librmw_implementation.so the wheels lack (their librcl links
# librmw_fastrtps_cpp directly), and the wheels' vendored libraries (site-packages/ros_*.libs)
# are put on LD_LIBRARY_PATH for r2r's build script; the wheels' librcl also needs libpython
# (NANOBOT_PYTHON_LIB, linked by build.rs). Only the message packages the kernel uses
# are generated (IDL_PACKAGE_FILTER). Needs libclang (Debian: libclang-dev) for bindgen.
set -euo pipefail
VENV="$1"
INSTALL="$2"
COMMAND="${3:-build}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export IDL_PACKAGE_FILTER="std_msgs;geometry_msgs;sensor_msgs;diagnostic_msgs;nanobot_msgs"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HERE/target}"
prefixes="$INSTALL/nanobot_msgs"
if [ -z "${ROS_DISTRO:-}" ]; then
  shim="$HERE/target/wheels-shim"
  mkdir -p "$shim/lib"
  ln -sf "$VENV/lib/librmw_fastrtps_cpp.so" "$shim/lib/librmw_implementation.so"
  prefixes="$prefixes:$shim:$VENV"
  export ROS_DISTRO=jazzy
  vendored="$(find "$VENV"/lib/python3*/site-packages -maxdepth 1 -name 'ros_*.libs' -type d |
    sort | tr '\n' ':')"
  export LD_LIBRARY_PATH="$VENV/lib:$vendored${LD_LIBRARY_PATH:-}"
  # The wheels' librcl needs their *__rosidl_generator_py libraries, which take Python's C API
  # from the process: the kernel links the venv's libpython (it never starts Python).
  NANOBOT_PYTHON_LIB="$("$VENV/bin/python" -c 'import sysconfig as s, os
v = s.get_config_var
print(os.path.join(v("LIBDIR"), v("LDLIBRARY")) if v("Py_ENABLE_SHARED") else "")')"
  if [ ! -f "$NANOBOT_PYTHON_LIB" ]; then
    echo "the Python of $VENV has no shared libpython, which the ROS 2 wheels' librcl needs;" \
      "use a Python built with --enable-shared (Debian's python3 is)" >&2
    exit 1
  fi
  export NANOBOT_PYTHON_LIB
fi
# The same prefix list whether or not install/setup.bash (or the venv) is sourced already: r2r
# regenerates its bindings whenever AMENT_PREFIX_PATH / CMAKE_PREFIX_PATH change.
others() {
  tr ':' '\n' <<< "${1:-}" | grep -v -x -F -e '' -e "$VENV" | grep -v -F "$INSTALL/" |
    paste -sd: - || true
}
ament="$(others "${AMENT_PREFIX_PATH:-}")"
cmake="$(others "${CMAKE_PREFIX_PATH:-}")"
export AMENT_PREFIX_PATH="$prefixes${ament:+:$ament}"
export CMAKE_PREFIX_PATH="$prefixes${cmake:+:$cmake}"
export LD_LIBRARY_PATH="$INSTALL/nanobot_msgs/lib:${LD_LIBRARY_PATH:-}"
exec cargo "$COMMAND" --release --locked --manifest-path "$HERE/Cargo.toml"
