//! The fuzz target `request_body`'s body (`request_body/mod.rs`, the same code `cargo fuzz`
//! runs) over the committed inputs: `fuzz/regressions/request_body/*` (minimized crashers, kept
//! forever), `fuzz/seeds/request_body/*` (the fuzzer's starting corpus), the hand-made seeds
//! and a few thousand deterministic mutations of them.
//!
//! `cargo test -p campus-voip-server --test fuzz_request_body -- --ignored write_seed_files`
//! rewrites `fuzz/seeds/request_body/` from `request_body::seeds()`.

mod request_body;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

const TARGET: &str = "request_body";

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn inputs(kind: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(TARGET);
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

/// The panic message if the body panicked on `data`.
fn run(data: &[u8]) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| request_body::request_body(data)))
        .err()
        .map(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "non-string panic".to_owned())
        })
}

#[test]
fn regressions_and_seeds() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, data) in request_body::seeds() {
        count += 1;
        if let Some(m) = run(&data) {
            failures.push(format!("built-in seed {name}: {m}"));
        }
    }
    for kind in ["regressions", "seeds"] {
        for file in inputs(kind) {
            count += 1;
            if let Some(m) = run(&std::fs::read(&file).unwrap()) {
                failures.push(format!("{}: {m}", file.display()));
            }
        }
    }
    if let Some(m) = run(&[]) {
        failures.push(format!("empty input: {m}"));
    }
    assert!(count >= 20, "only {count} inputs");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fuzz_target_file_calls_the_body() {
    let file = fuzz_dir().join("fuzz_targets").join(format!("{TARGET}.rs"));
    let src = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(src.contains("body::request_body("), "{}", file.display());
}

/// Deterministic mutations of the seeds, so a plain `cargo test` explores a little beyond them.
#[test]
fn pseudo_random_inputs() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds = request_body::seeds();
    for i in 0..3000 {
        let mut data = seeds[i % seeds.len()].1.clone();
        match next() % 5 {
            0 => data = (0..next() % 120).map(|_| next() as u8).collect(),
            1 if data.len() > 6 => data.truncate(6 + (next() as usize) % (data.len() - 6)),
            _ => {
                for _ in 0..1 + next() % 4 {
                    if data.is_empty() {
                        break;
                    }
                    let at = (next() as usize) % data.len();
                    data[at] = next() as u8;
                }
            }
        }
        if let Some(m) = run(&data) {
            panic!("input {data:?}: {m}");
        }
    }
}

#[test]
#[ignore = "writes fuzz/seeds/request_body/ from request_body::seeds()"]
fn write_seed_files() {
    let dir = fuzz_dir().join("seeds").join(TARGET);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in request_body::seeds() {
        std::fs::write(dir.join(name), data).unwrap();
    }
}
