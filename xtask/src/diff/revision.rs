//! The specs of a revision: a git ref, read with `git ls-tree` and `git show`, or the working tree.
//!
//! Only read-only git commands are run, in the repository root, so the command is safe in a tree
//! others are editing. A ref that does not name a commit is an error naming it; a revision without a
//! `specs/` directory simply has no specs (every spec of the other side is then added or removed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// One side of the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revision {
    /// The files on disk, committed or not.
    WorkingTree,
    /// Anything `git rev-parse` understands: a branch, a tag, `HEAD~1`, a commit id.
    Git(String),
}

impl Revision {
    /// How the revision is shown to people: the ref as given, or `working tree`.
    pub fn label(&self) -> String {
        match self {
            Revision::WorkingTree => "working tree".to_string(),
            Revision::Git(r) => r.clone(),
        }
    }

    /// How a spec file of this revision is named in diagnostics: `HEAD~1:specs/lxca.yaml`, or
    /// `specs/lxca.yaml` in the working tree (as `cargo xtask lint` names it).
    pub fn file_label(&self, name: &str) -> String {
        match self {
            Revision::WorkingTree => format!("specs/{name}"),
            Revision::Git(r) => format!("{r}:specs/{name}"),
        }
    }
}

/// The specs (`specs/*.yaml`, not below) of a revision: file name to text. A spec that is not UTF-8
/// is returned as an error text for the caller to report, not as a failure of the whole command.
pub fn specs(repo: &Path, revision: &Revision) -> Result<BTreeMap<String, Result<String, String>>> {
    let mut out = BTreeMap::new();
    match revision {
        Revision::WorkingTree => {
            let dir = repo.join("specs");
            if !dir.is_dir() {
                return Ok(out);
            }
            let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
                .with_context(|| format!("reading {}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml"))
                .collect();
            paths.sort();
            for path in paths {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_string();
                let text =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                out.insert(name, utf8(text));
            }
        }
        Revision::Git(r) => {
            verify(repo, r)?;
            let listing = git(repo, &["ls-tree", "--name-only", r, "specs/"])?;
            for line in String::from_utf8_lossy(&listing).lines() {
                let Some(name) = line.strip_prefix("specs/") else {
                    continue;
                };
                if name.contains('/') || !name.ends_with(".yaml") {
                    continue;
                }
                let text = git(repo, &["show", &format!("{r}:specs/{name}")])?;
                out.insert(name.to_string(), utf8(text));
            }
        }
    }
    Ok(out)
}

fn utf8(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| format!("the file is not UTF-8 text: {e}"))
}

/// Fails, naming the ref, unless it names a commit of the repository.
fn verify(repo: &Path, r: &str) -> Result<()> {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("{r}^{{commit}}"))
        .output()
        .context("running git (is it installed?)")?;
    if !output.status.success() {
        bail!(
            "`{r}` is not a commit of the repository at {} (try a branch, a tag, HEAD~1 or a commit id; \
             in a shallow clone, fetch the base first)",
            repo.display()
        );
    }
    Ok(())
}

/// Runs a read-only git command in `repo` and returns its standard output.
fn git(repo: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .context("running git (is it installed?)")?;
    if !output.status.success() {
        bail!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}
