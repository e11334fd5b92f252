//! Broken specs give the exact diagnostics a reviewer needs, and never a panic.
//!
//! Each file in `broken-specs/` is a small spec with one mistake. Its first line, `# expect: ...`,
//! names a message that must appear; the full output is an insta snapshot beside this file.

use std::path::Path;

fn diagnostics(path: &Path) -> Vec<codegen::Diagnostic> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = format!(
        "broken-specs/{}",
        path.file_name().unwrap().to_string_lossy()
    );
    match codegen::load(&name, &text) {
        Ok(spec) => codegen::lint::lint(&spec, &[]),
        Err(diagnostics) => diagnostics,
    }
}

#[test]
fn broken_specs_give_their_expected_diagnostics() {
    insta::glob!("broken-specs/*.yaml", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let expected = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} must start with `# expect: <message>`", path.display()));
        let found = diagnostics(path);
        let output: Vec<String> = found.iter().map(ToString::to_string).collect();
        let output = output.join("\n");
        assert!(
            found.iter().any(|d| d.is_error()),
            "{}: no error reported",
            path.display()
        );
        assert!(
            output.contains(expected),
            "{}: expected a diagnostic containing\n  {expected}\ngot\n{output}",
            path.display()
        );
        insta::assert_snapshot!(output);
    });
}

#[test]
fn there_are_enough_broken_spec_fixtures() {
    let count = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken-specs"))
        .unwrap()
        .count();
    assert!(count >= 15, "only {count} broken-spec fixtures");
}
