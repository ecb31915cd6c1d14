#![cfg(not(target_arch = "wasm32"))]
//! Every fuzz target's body (`tests/fuzz_bodies/mod.rs`, the same code `cargo fuzz` runs) over
//! the committed inputs: `fuzz/regressions/<target>/*` (minimized crashers, kept forever),
//! `fuzz/seeds/<target>/*` (the fuzzer's starting corpus) and the hand-made seeds in
//! `fuzz_bodies::seeds()`. A failing input is reported by its file name.
//!
//! `cargo test --test fuzz_regressions -- --ignored write_seed_files` rewrites `fuzz/seeds/`
//! from `fuzz_bodies::seeds()`.

mod fuzz_bodies;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `fuzz/<kind>/<target>/`, sorted (none if the folder does not exist).
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .map(|e| e.expect("readable folder").path())
            .filter(|p| p.is_file())
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Runs `body` on `data`; the panic message if it panicked.
fn run(body: fuzz_bodies::Body, data: &[u8]) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| body(data)))
        .err()
        .map(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "non-string panic".to_owned())
        })
}

#[test]
fn every_target_over_its_regressions_and_seeds() {
    let seeds = fuzz_bodies::seeds();
    let mut failures = Vec::new();
    for (target, body) in fuzz_bodies::TARGETS {
        let mut count = 0;
        for (t, name, data) in &seeds {
            if t == target {
                count += 1;
                if let Some(msg) = run(*body, data) {
                    failures.push(format!("{target}: built-in seed {name}: {msg}"));
                }
            }
        }
        for kind in ["regressions", "seeds"] {
            for file in inputs(kind, target) {
                count += 1;
                let data = std::fs::read(&file).expect("readable input");
                if let Some(msg) = run(*body, &data) {
                    failures.push(format!("{}: {msg}", file.display()));
                }
            }
        }
        // Exhausted input reads as zeros: the empty input is valid for every body.
        if let Some(msg) = run(*body, &[]) {
            failures.push(format!("{target}: empty input: {msg}"));
        }
        assert!(count >= 3, "{target} has only {count} inputs");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_target_has_a_fuzz_target_file() {
    for (target, _) in fuzz_bodies::TARGETS {
        let file = fuzz_dir().join("fuzz_targets").join(format!("{target}.rs"));
        let src =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            src.contains(&format!("bodies::{target}(")),
            "{} does not call bodies::{target}",
            file.display()
        );
    }
}

/// Cheap pseudo-random inputs through every body, so a plain `cargo test` explores a little
/// beyond the fixed inputs (deterministic: same inputs every run).
#[test]
fn every_target_over_pseudo_random_inputs() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds = fuzz_bodies::seeds();
    for (target, body) in fuzz_bodies::TARGETS {
        let bases: Vec<&Vec<u8>> = seeds
            .iter()
            .filter(|(t, _, _)| t == target)
            .map(|(_, _, d)| d)
            .collect();
        for i in 0..300 {
            let mut data = bases[i % bases.len()].clone();
            // A few byte flips, or fresh random bytes.
            if next() % 4 == 0 {
                data = (0..next() % 200).map(|_| next() as u8).collect();
            } else {
                for _ in 0..1 + next() % 4 {
                    if data.is_empty() {
                        break;
                    }
                    let at = (next() as usize) % data.len();
                    data[at] = next() as u8;
                }
            }
            if let Some(msg) = run(*body, &data) {
                panic!("{target}: input {data:?}: {msg}");
            }
        }
    }
}

#[test]
#[ignore = "writes fuzz/seeds/ from fuzz_bodies::seeds()"]
fn write_seed_files() {
    for (target, name, data) in fuzz_bodies::seeds() {
        let dir = fuzz_dir().join("seeds").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    }
}
