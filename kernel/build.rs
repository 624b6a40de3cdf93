//! Link-time fixes for building against the PyPI ROS 2 Jazzy wheels (see docs/kernel.md).
//!
//! Every prefix on AMENT_PREFIX_PATH (set by build.sh or a sourced ROS install) puts its lib/
//! on the binary's RPATH, and the wheels' vendored libraries
//! (site-packages/ros_*.libs: tinyxml2, ssl, lttng-ust, yaml) go on -rpath-link and RPATH,
//! so the node starts without an environment script. build.sh's librmw_implementation shim
//! is for linking only. NANOBOT_PYTHON_LIB (set by build.sh on the wheels) is linked as well:
//! the wheels' librcl pulls in message libraries that resolve Python C API symbols.
use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn vendored_lib_dirs(prefix: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let Ok(lib) = fs::read_dir(prefix.join("lib")) else { return dirs };
    for python in lib.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("python3")) {
        let Ok(packages) = fs::read_dir(python.path().join("site-packages")) else { continue };
        for entry in packages.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("ros_") && name.ends_with(".libs") {
                dirs.push(entry.path());
            }
        }
    }
    dirs.sort();
    dirs
}

fn main() {
    println!("cargo:rerun-if-env-changed=AMENT_PREFIX_PATH");
    println!("cargo:rerun-if-env-changed=NANOBOT_PYTHON_LIB");
    // DT_RPATH, not DT_RUNPATH: only RPATH is searched for the libraries' own dependencies
    // (librcl -> the vendored tinyxml2), which is what the wheels need.
    println!("cargo:rustc-link-arg=-Wl,--disable-new-dtags");
    if let Some(python) = env::var_os("NANOBOT_PYTHON_LIB").filter(|p| !p.is_empty()) {
        let python = PathBuf::from(python);
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg={}", python.display());
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", python.parent().unwrap().display());
    }
    let prefixes = env::var("AMENT_PREFIX_PATH").unwrap_or_default();
    for prefix in prefixes.split(':').filter(|p| !p.is_empty()).map(Path::new) {
        let lib = prefix.join("lib");
        if lib.is_dir() && !prefix.ends_with("wheels-shim") {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
        }
        for dir in vendored_lib_dirs(prefix) {
            println!("cargo:rustc-link-arg=-Wl,-rpath-link,{}", dir.display());
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
        }
    }
}
