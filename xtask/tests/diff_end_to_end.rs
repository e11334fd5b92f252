//! `cargo xtask diff` end to end: the real binary on a temporary git repository with a few commits,
//! comparing commits and the working tree, in both output formats, with `--fail-on-breaking`, and on
//! a base revision whose spec does not load.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const SPEC: &str = r#"openapi: 3.0.3
info:
  title: Demo appliance
  version: "1"
paths:
  /tasks/{id}:
    get:
      operationId: GetTask
      summary: Get a task
      parameters:
        - name: id
          in: path
          required: true
          schema:
            type: string
      responses:
        "200":
          description: The task.
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Task'
components:
  schemas:
    Task:
      type: object
      required: [id]
      properties:
        id:
          type: string
        size:
          type: integer
          format: int32
"#;

/// A git repository in a fresh temporary directory, removed when dropped.
struct Repo {
    dir: PathBuf,
}

impl Repo {
    fn new(name: &str) -> Repo {
        let dir = std::env::temp_dir().join(format!(
            "xtask-diff-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(dir.join("specs")).unwrap();
        let repo = Repo { dir };
        repo.git(&["init", "-q"]);
        repo
    }

    fn git(&self, args: &[&str]) {
        let status = Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args([
                "-c",
                "user.name=Diff Test",
                "-c",
                "user.email=diff-test@example.com",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?} failed");
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.dir.join("specs").join(file), text).unwrap();
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }

    fn diff(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("diff")
            .args(args)
            .arg("--repo")
            .arg(&self.dir)
            .output()
            .unwrap()
    }

    fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Repo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn rules(report: &Value, spec: &str) -> Vec<String> {
    report["specs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["crate"] == spec)
        .unwrap_or_else(|| panic!("no spec {spec} in {report:#}"))["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn commits_and_working_tree_are_compared() {
    let repo = Repo::new("e2e");
    repo.write("demo.yaml", SPEC);
    repo.commit("base");
    // Commit 2: a breaking change (a response field removed), a prose edit, and a new spec.
    repo.write(
        "demo.yaml",
        &SPEC
            .replace(
                "        size:\n          type: integer\n          format: int32\n",
                "",
            )
            .replace("summary: Get a task", "summary: Read one task"),
    );
    repo.write("other.yaml", SPEC);
    repo.commit("head");
    // The working tree: the field comes back as an optional field (a non-breaking change since
    // HEAD), uncommitted.
    repo.write(
        "demo.yaml",
        &SPEC.replace("summary: Get a task", "summary: Read one task"),
    );

    // HEAD~1 → HEAD, as JSON.
    let out = repo.diff(&["HEAD~1", "--head", "HEAD", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["base"], "HEAD~1");
    assert_eq!(report["head"], "HEAD");
    assert_eq!(rules(&report, "demo"), ["response-field-removed"]);
    assert_eq!(rules(&report, "other"), ["spec-added", "operation-added"]);
    let demo = &report["specs"][0];
    assert_eq!(demo["status"], "changed");
    assert_eq!(demo["breaking"], 1);
    assert_eq!(
        demo["prose"][0]["pointer"],
        "#/paths/~1tasks~1{id}/get/summary"
    );
    let removed = demo["public_api"]["removed"].as_array().unwrap();
    assert!(
        removed.iter().any(|i| i
            .as_str()
            .unwrap()
            .starts_with("field demo::types::Task::size")),
        "{removed:?}"
    );
    assert_eq!(report["summary"]["breaking"], 1);

    // The same as markdown, failing on the breaking change.
    let out = repo.diff(&["HEAD~1", "--head", "HEAD", "--fail-on-breaking"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let markdown = stdout(&out);
    assert!(
        markdown.starts_with("## API review: `HEAD~1` → `HEAD`"),
        "{markdown}"
    );
    assert!(markdown.contains("**1 breaking**"), "{markdown}");
    assert!(
        markdown.contains("| `response-field-removed` | `GetTask` |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("#### Generated public API of `demo`"),
        "{markdown}"
    );
    assert!(
        markdown.contains("- field demo::types::Task::size"),
        "{markdown}"
    );
    assert!(markdown.contains("Documentation-only edits"), "{markdown}");

    // HEAD → working tree (the default head): only non-breaking changes, so the flag passes.
    let out = repo.diff(&["HEAD", "--fail-on-breaking", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["head"], "working tree");
    assert_eq!(rules(&report, "demo"), ["response-field-added-optional"]);
    assert_eq!(rules(&report, "other"), Vec::<String>::new());
    assert_eq!(report["specs"][1]["status"], "unchanged");

    // A spec removed counts too.
    std::fs::remove_file(repo.path().join("specs/other.yaml")).unwrap();
    let out = repo.diff(&["HEAD", "--format", "json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        rules(&report, "other"),
        ["spec-removed", "operation-removed"]
    );
}

#[test]
fn a_base_spec_that_does_not_load_is_reported_not_a_crash() {
    let repo = Repo::new("broken");
    repo.write("demo.yaml", &SPEC.replace("paths:\n", "paths: [\n"));
    repo.commit("broken");
    repo.write("demo.yaml", SPEC);
    repo.commit("fixed");

    let out = repo.diff(&["HEAD~1", "--head", "HEAD"]);
    let (markdown, errors) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{errors}");
    assert!(!errors.contains("panicked"), "{errors}");
    assert!(
        markdown.contains("HEAD~1:specs/demo.yaml does not load at HEAD~1"),
        "{markdown}"
    );
    assert!(markdown.contains("HEAD~1:specs/demo.yaml:"), "{markdown}");
    assert!(errors.contains("HEAD~1:specs/demo.yaml"), "{errors}");
    // A spec that could not be compared fails `--fail-on-breaking`: nothing proves it is safe.
    let out = repo.diff(&["HEAD~1", "--head", "HEAD", "--fail-on-breaking"]);
    assert_eq!(out.status.code(), Some(1));
    // A head spec that does not load fails the command.
    let out = repo.diff(&["HEAD", "--head", "HEAD~1", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["specs"][0]["status"], "not compared");
}

#[test]
fn an_unknown_revision_is_named() {
    let repo = Repo::new("unknown");
    repo.write("demo.yaml", SPEC);
    repo.commit("only commit");
    let out = repo.diff(&["HEAD~1"]);
    assert_eq!(out.status.code(), Some(1));
    let errors = stderr(&out);
    assert!(errors.contains("`HEAD~1` is not a commit"), "{errors}");
    assert!(!errors.contains("panicked"), "{errors}");
}

#[test]
fn rules_and_usage() {
    let repo = Repo::new("usage");
    let out = repo.diff(&["--rules"]);
    assert!(out.status.success());
    let table = stdout(&out);
    assert!(table.starts_with("| change | breaks clients | breaks appliances | why |"));
    assert!(
        table.contains("| `request-enum-value-removed` | yes | no |"),
        "{table}"
    );
    assert!(
        table.contains("| `response-enum-value-added` | no | no |"),
        "{table}"
    );
    assert!(table.contains("| `prose-changed` | no | no |"), "{table}");

    let out = repo.diff(&["HEAD", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown format `yaml`"));
    let out = repo.diff(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no base revision given"));
}
