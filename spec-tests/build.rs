//! Embeds the corpus (`fixtures/`: catalogue, tombstones, case schema, cases) into the binary,
//! so an installed `state-conformance` runs the suite from any directory. Each file goes in
//! through `include_str!`, and each file and directory is a rerun trigger, so an edited, added
//! or removed case rebuilds the binary.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let root = root
        .canonicalize()
        .unwrap_or_else(|e| panic!("the corpus at {} is missing: {e}", root.display()));
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();
    let mut code = String::from("/// Every corpus file: path relative to `fixtures/`, text.\n");
    code.push_str("pub static FILES: &[(&str, &str)] = &[\n");
    for (relative, absolute) in &files {
        writeln!(
            code,
            "    ({relative:?}, include_str!({:?})),",
            absolute.display()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("embedded_fixtures.rs"), code).expect("OUT_DIR is writable");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    println!("cargo::rerun-if-changed={}", dir.display());
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a readable directory entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.extension().is_some_and(|x| x == "json") {
            println!("cargo::rerun-if-changed={}", path.display());
            let relative = path.strip_prefix(root).expect("under the root");
            let relative = relative.to_str().expect("corpus file names are UTF-8");
            files.push((relative.replace('\\', "/"), path));
        }
    }
}
