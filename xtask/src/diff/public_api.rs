//! The generated crates' public API, item by item, and its difference between two revisions.
//!
//! The spec-level classification says what breaks on the wire; this says what user code may stop
//! compiling. Both specs are run through the generator in-process (`codegen::ir::lower`, then
//! `codegen::emit::files`, as `cargo xtask regenerate` does), the emitted files are parsed with `syn`,
//! and every public item is listed by path: modules, structs and their public fields, enums and their
//! variants, functions and methods, traits and their items, type aliases, constants, re-exports, and
//! the traits each type implements (derived or written). An item whose signature changed (a field's
//! type, a method's arguments) is listed as changed.
//!
//! Only what user code can name counts: `pub` items in `pub` modules, without `#[doc(hidden)]` ones
//! (the type registry is hidden). The hand-written `lib.rs` of each crate is not part of the spec's
//! output and is left out.

use std::collections::BTreeMap;

use quote::ToTokens;

/// One public item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// `struct`, `field`, `enum`, `variant`, `fn`, `method`, `trait`, `trait item`, `mod`, `type`,
    /// `const`, `static`, `use`, `impl`.
    pub kind: &'static str,
    /// `lxca::types::Task::status`; for `impl`, `lxca::types::Task: Clone`.
    pub path: String,
    /// The part that may change while the path stays: a field's type, a function's signature.
    pub signature: String,
}

impl Item {
    /// One line for people: `field lxca::types::Task::status: Option<TaskStatus>`.
    pub fn line(&self) -> String {
        if self.signature.is_empty() {
            format!("{} {}", self.kind, self.path)
        } else {
            format!("{} {}: {}", self.kind, self.path, self.signature)
        }
    }
}

/// The public items of a crate, by `kind path`.
pub type Items = BTreeMap<String, Item>;

/// What changed in one crate's public API.
#[derive(Debug, Clone, Default)]
pub struct ApiDiff {
    pub added: Vec<Item>,
    pub removed: Vec<Item>,
    /// (before, after), same kind and path.
    pub changed: Vec<(Item, Item)>,
}

impl ApiDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// The difference from `base` to `head`, in path order.
pub fn diff(base: &Items, head: &Items) -> ApiDiff {
    let mut out = ApiDiff::default();
    for (key, item) in base {
        match head.get(key) {
            None => out.removed.push(item.clone()),
            Some(new) if new.signature != item.signature => {
                out.changed.push((item.clone(), new.clone()))
            }
            Some(_) => {}
        }
    }
    for (key, item) in head {
        if !base.contains_key(key) {
            out.added.push(item.clone());
        }
    }
    out
}

/// Generates the crate for a loaded spec and lists its public items. `crate_name` is the spec's stem.
/// A generator failure (an error or a panic on a spec that loads) is returned as a message.
pub fn items_of_spec(crate_name: &str, spec: &codegen::Spec) -> Result<Items, String> {
    let files = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let api = codegen::ir::lower(spec);
        codegen::emit::files(&api, &spec.file)
    }))
    .map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("the generator panicked: {message}")
    })??;
    let files: Vec<(String, String)> = files.into_iter().map(|f| (f.name, f.contents)).collect();
    items_of_files(crate_name, &files)
}

/// The public items of generated files (`mod.rs` declaring one module per other file).
pub fn items_of_files(crate_name: &str, files: &[(String, String)]) -> Result<Items, String> {
    let root = crate_name.replace('-', "_");
    let mut out = Items::new();
    let parse = |name: &str, text: &str| {
        syn::parse_file(text).map_err(|e| format!("generated {name} does not parse: {e}"))
    };
    let Some((_, mod_rs)) = files.iter().find(|(name, _)| name == "mod.rs") else {
        return Err("the generator wrote no mod.rs".to_string());
    };
    let module = parse("mod.rs", mod_rs)?;
    walk(&root, &module.items, &mut out);
    for (name, text) in files {
        let Some(stem) = name.strip_suffix(".rs") else {
            continue;
        };
        // Only files that mod.rs declares as visible modules are public API.
        if stem == "mod" || !out.contains_key(&format!("mod {root}::{stem}")) {
            continue;
        }
        let file = parse(name, text)?;
        walk(&format!("{root}::{stem}"), &file.items, &mut out);
    }
    Ok(out)
}

fn add(out: &mut Items, kind: &'static str, path: String, signature: String) {
    out.insert(
        format!("{kind} {path}"),
        Item {
            kind,
            path,
            signature,
        },
    );
}

fn is_pub(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

fn hidden(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("doc")
            && a.meta
                .require_list()
                .is_ok_and(|l| l.tokens.to_string() == "hidden")
    })
}

/// Tokens as compact Rust text: `::std::option::Option<i64>`, not `:: std :: option :: Option < i64 >`.
fn text(tokens: &impl ToTokens) -> String {
    let spaced = tokens.to_token_stream().to_string();
    let chars: Vec<char> = spaced.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' && !keep_space(&out, &chars[i + 1..]) {
            continue;
        }
        out.push(c);
    }
    out.into_iter().collect()
}

/// Whether a space between what was written and what follows separates tokens people separate.
fn keep_space(before: &[char], after: &[char]) -> bool {
    let prev = before.last().copied().unwrap_or(' ');
    let prev2 = before.len().checked_sub(2).map_or(' ', |i| before[i]);
    let next = after.first().copied().unwrap_or(' ');
    let next2 = after.get(1).copied().unwrap_or(' ');
    let prev_path = prev == ':' && prev2 == ':';
    let next_path = next == ':' && next2 == ':';
    // `name: Type`, `-> Type`, `a, b`, `= ::path`: spaces people write.
    if (prev == ':' && !prev_path) || (prev == '>' && prev2 == '-') || matches!(prev, '=' | '+') {
        return true;
    }
    if prev == ',' {
        return next != ')';
    }
    if prev_path || next_path || matches!(prev, '<' | '&' | '(' | '[' | '#' | '!') {
        return false;
    }
    !matches!(next, ':' | '<' | '>' | ',' | ')' | ']' | '?' | ';' | '(')
}

/// Traits named in `#[derive(...)]`, by their last path segment.
fn derives(attrs: &[syn::Attribute]) -> Vec<String> {
    let mut out = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let _ = attr.parse_nested_meta(|meta| {
            if let Some(last) = meta.path.segments.last() {
                out.push(last.ident.to_string());
            }
            Ok(())
        });
    }
    out
}

fn walk(prefix: &str, items: &[syn::Item], out: &mut Items) {
    for item in items {
        match item {
            syn::Item::Struct(s) if is_pub(&s.vis) && !hidden(&s.attrs) => {
                let path = format!("{prefix}::{}", s.ident);
                add(out, "struct", path.clone(), text(&s.generics));
                for (i, field) in s.fields.iter().enumerate() {
                    if is_pub(&field.vis) && !hidden(&field.attrs) {
                        let name = field
                            .ident
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_else(|| i.to_string());
                        add(out, "field", format!("{path}::{name}"), text(&field.ty));
                    }
                }
                for t in derives(&s.attrs) {
                    add(out, "impl", format!("{path}: {t}"), String::new());
                }
            }
            syn::Item::Enum(e) if is_pub(&e.vis) && !hidden(&e.attrs) => {
                let path = format!("{prefix}::{}", e.ident);
                add(out, "enum", path.clone(), text(&e.generics));
                for v in e.variants.iter().filter(|v| !hidden(&v.attrs)) {
                    add(
                        out,
                        "variant",
                        format!("{path}::{}", v.ident),
                        text(&v.fields),
                    );
                }
                for t in derives(&e.attrs) {
                    add(out, "impl", format!("{path}: {t}"), String::new());
                }
            }
            syn::Item::Fn(f) if is_pub(&f.vis) && !hidden(&f.attrs) => {
                add(
                    out,
                    "fn",
                    format!("{prefix}::{}", f.sig.ident),
                    text(&f.sig),
                );
            }
            syn::Item::Trait(t) if is_pub(&t.vis) && !hidden(&t.attrs) => {
                let path = format!("{prefix}::{}", t.ident);
                add(
                    out,
                    "trait",
                    path.clone(),
                    format!("{}{}", text(&t.generics), text(&t.supertraits)),
                );
                for member in &t.items {
                    let (name, signature) = match member {
                        syn::TraitItem::Fn(f) => (f.sig.ident.to_string(), text(&f.sig)),
                        syn::TraitItem::Type(ty) => (ty.ident.to_string(), text(&ty.bounds)),
                        syn::TraitItem::Const(c) => (c.ident.to_string(), text(&c.ty)),
                        _ => continue,
                    };
                    add(out, "trait item", format!("{path}::{name}"), signature);
                }
            }
            syn::Item::Impl(i) if !hidden(&i.attrs) => {
                let ty = match &*i.self_ty {
                    syn::Type::Path(p) => p
                        .path
                        .segments
                        .last()
                        .map(|s| s.ident.to_string())
                        .unwrap_or_default(),
                    other => text(other),
                };
                let path = format!("{prefix}::{ty}");
                if let Some((_, trait_path, _)) = &i.trait_ {
                    let name = trait_path
                        .segments
                        .last()
                        .map(|s| s.ident.to_string())
                        .unwrap_or_default();
                    add(out, "impl", format!("{path}: {name}"), String::new());
                    continue;
                }
                for member in &i.items {
                    match member {
                        syn::ImplItem::Fn(f) if is_pub(&f.vis) && !hidden(&f.attrs) => add(
                            out,
                            "method",
                            format!("{path}::{}", f.sig.ident),
                            text(&f.sig),
                        ),
                        syn::ImplItem::Const(c) if is_pub(&c.vis) && !hidden(&c.attrs) => {
                            add(out, "const", format!("{path}::{}", c.ident), text(&c.ty))
                        }
                        _ => {}
                    }
                }
            }
            syn::Item::Mod(m) if is_pub(&m.vis) && !hidden(&m.attrs) => {
                let path = format!("{prefix}::{}", m.ident);
                add(out, "mod", path.clone(), String::new());
                if let Some((_, content)) = &m.content {
                    walk(&path, content, out);
                }
            }
            syn::Item::Type(t) if is_pub(&t.vis) && !hidden(&t.attrs) => add(
                out,
                "type",
                format!("{prefix}::{}", t.ident),
                format!("{} = {}", text(&t.generics), text(&t.ty)),
            ),
            syn::Item::Const(c) if is_pub(&c.vis) && !hidden(&c.attrs) => {
                add(out, "const", format!("{prefix}::{}", c.ident), text(&c.ty))
            }
            syn::Item::Static(s) if is_pub(&s.vis) && !hidden(&s.attrs) => {
                add(out, "static", format!("{prefix}::{}", s.ident), text(&s.ty))
            }
            syn::Item::Use(u) if is_pub(&u.vis) && !hidden(&u.attrs) => add(
                out,
                "use",
                format!("{prefix}::{}", text(&u.tree)),
                String::new(),
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(types: &str) -> Items {
        let files = vec![
            ("mod.rs".to_string(), "pub mod types;".to_string()),
            ("types.rs".to_string(), types.to_string()),
        ];
        items_of_files("demo-api", &files).unwrap()
    }

    #[test]
    fn lists_public_items_by_path() {
        let listed = items(
            "#[derive(Debug, Clone)] pub struct Task { pub id: String, secret: u8 }
             struct Private { pub x: u8 }
             pub enum State { Running, Done(u8) }
             impl Task { pub fn new() -> Self { todo!() } fn private(&self) {} }
             pub mod ops { pub struct Options { pub limit: Option<i32> } }",
        );
        let keys: Vec<&str> = listed.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "enum demo_api::types::State",
                "field demo_api::types::Task::id",
                "field demo_api::types::ops::Options::limit",
                "impl demo_api::types::Task: Clone",
                "impl demo_api::types::Task: Debug",
                "method demo_api::types::Task::new",
                "mod demo_api::types",
                "mod demo_api::types::ops",
                "struct demo_api::types::Task",
                "struct demo_api::types::ops::Options",
                "variant demo_api::types::State::Done",
                "variant demo_api::types::State::Running",
            ]
        );
    }

    #[test]
    fn signatures_read_like_rust() {
        let listed = items(
            "pub struct A { pub x: ::std::option::Option<::std::vec::Vec<i64>> }
             impl A { pub async fn get<T: Clone>(&self, id: &str, n: ::std::sync::Arc<T>) -> ::std::result::Result<(), Box<dyn Fn() -> u8 + Send>> { todo!() } }",
        );
        assert_eq!(
            listed["field demo_api::types::A::x"].signature,
            "::std::option::Option<::std::vec::Vec<i64>>"
        );
        assert_eq!(
            listed["method demo_api::types::A::get"].signature,
            "async fn get<T: Clone>(&self, id: &str, n: ::std::sync::Arc<T>) -> ::std::result::Result<(), Box<dyn Fn() -> u8 + Send>>"
        );
    }

    #[test]
    fn diff_lists_added_removed_and_changed() {
        let base = items("pub struct A { pub x: i32, pub y: u8 }");
        let head = items("pub struct A { pub x: i64, pub z: u8 }");
        let d = diff(&base, &head);
        let lines = |v: &[Item]| v.iter().map(Item::line).collect::<Vec<_>>();
        assert_eq!(lines(&d.added), ["field demo_api::types::A::z: u8"]);
        assert_eq!(lines(&d.removed), ["field demo_api::types::A::y: u8"]);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].1.line(), "field demo_api::types::A::x: i64");
    }
}
