//! No input panics the loader or lint: every real spec, cut short at many points or with characters
//! swapped, still gives diagnostics (or loads), never a panic.

use std::path::Path;

fn inputs() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut out = Vec::new();
    for dir in [root.join("specs"), root.join("codegen/tests/broken-specs")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                out.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// Loads every input; lints those of ordinary size (linting the largest spec dozens of times would
/// dominate the test suite, and lint code paths are the same at any size).
fn exercise(name: &str, text: &str) {
    if let Ok(spec) = codegen::load(name, text) {
        if text.len() < 150_000 {
            let _ = codegen::lint::lint(&spec, &[]);
        }
    }
}

#[test]
fn truncated_specs_never_panic() {
    for (name, text) in inputs() {
        let cuts = 24.min(text.len());
        for i in 1..=cuts {
            let mut at = text.len() * i / (cuts + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            exercise(&name, &text[..at]);
        }
    }
}

#[test]
fn specs_with_swapped_characters_never_panic() {
    let swaps = [":", "{", "[", "- ", "'", "$ref", "\t", "&a", "*a", "~1"];
    for (name, text) in inputs() {
        let lines: Vec<&str> = text.lines().collect();
        for (n, swap) in swaps.iter().enumerate() {
            for k in 0..2 {
                let target = (lines.len() * (2 * k + 1) / 4 + n) % lines.len().max(1);
                let mut mutated: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                if let Some(line) = mutated.get_mut(target) {
                    let mid = line.len() / 2;
                    let mid = (0..=mid)
                        .rev()
                        .find(|i| line.is_char_boundary(*i))
                        .unwrap_or(0);
                    line.insert_str(mid, swap);
                }
                exercise(&name, &mutated.join("\n"));
            }
        }
    }
}
