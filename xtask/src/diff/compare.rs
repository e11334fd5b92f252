//! Two API models in, the list of classified changes out.
//!
//! The walk is side-aware: parameters and request bodies are compared as [`Side::Request`], response
//! bodies and headers as [`Side::Response`], and each value-level difference (type, nullability,
//! constraints, enum values, alternatives) is turned into a rule id with that side's prefix. The rules
//! and their reasons are in `rules.rs`; this module only decides which one applies.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::model::{ApiModel, Operation, Response, Shape, Side};
use super::rules::{rule, Rule};

/// One change between two revisions of a spec.
#[derive(Debug, Clone)]
pub struct Change {
    pub rule: &'static Rule,
    /// The operationId, or `None` for a change to the document as a whole.
    pub operation: Option<String>,
    /// Where in the operation: `parameter`, `request application/json`, `response 200 application/json`,
    /// `security`, `x-job`, ... (empty for the operation itself).
    pub place: String,
    /// What changed there: a field path, a parameter, a state.
    pub subject: String,
    /// The change itself, for people: `int32 → int64`, `value \`Foo\``.
    pub detail: String,
}

impl Change {
    pub fn breaking(&self) -> bool {
        self.rule.breaking()
    }
}

/// Collects changes for one operation (or the document).
struct Collector<'a> {
    operation: Option<&'a str>,
    changes: Vec<Change>,
}

impl Collector<'_> {
    fn push(&mut self, id: &str, place: &str, subject: &str, detail: impl Into<String>) {
        self.changes.push(Change {
            rule: rule(id),
            operation: self.operation.map(str::to_string),
            place: place.to_string(),
            subject: subject.to_string(),
            detail: detail.into(),
        });
    }

    fn side(&mut self, side: Side, kind: &str, place: &str, subject: &str, detail: String) {
        let id = format!("{}-{kind}", side.prefix());
        self.push(&id, place, subject, detail);
    }
}

/// Every change from `base` to `head`, operations in name order, document-level changes first.
pub fn compare(base: &ApiModel, head: &ApiModel) -> Vec<Change> {
    let mut doc = Collector {
        operation: None,
        changes: Vec::new(),
    };
    compare_document(&mut doc, base, head);
    let mut changes = doc.changes;
    let names: BTreeSet<&String> = base
        .operations
        .keys()
        .chain(head.operations.keys())
        .collect();
    for name in names {
        let mut c = Collector {
            operation: Some(name),
            changes: Vec::new(),
        };
        match (base.operations.get(name), head.operations.get(name)) {
            (Some(old), None) => c.push(
                "operation-removed",
                "",
                "",
                format!("{} {}", old.method, old.path),
            ),
            (None, Some(new)) => c.push(
                "operation-added",
                "",
                "",
                format!("{} {}", new.method, new.path),
            ),
            (Some(old), Some(new)) => {
                compare_operation(&mut c, base, head, old, new);
                if c.changes.is_empty() && old.residue != new.residue {
                    c.push(
                        "unclassified-change",
                        "",
                        "",
                        "the operation's definition changed in a way not listed here",
                    );
                }
            }
            (None, None) => {}
        }
        changes.extend(c.changes);
    }
    changes
}

fn compare_document(c: &mut Collector, base: &ApiModel, head: &ApiModel) {
    // Security schemes.
    let names: BTreeSet<&String> = base
        .security_schemes
        .keys()
        .chain(head.security_schemes.keys())
        .collect();
    for name in names {
        match (
            base.security_schemes.get(name),
            head.security_schemes.get(name),
        ) {
            (Some(_), None) => c.push("security-scheme-removed", "security scheme", name, ""),
            (None, Some(_)) => c.push("security-scheme-added", "security scheme", name, ""),
            (Some(old), Some(new)) if old != new => c.push(
                "security-scheme-changed",
                "security scheme",
                name,
                format!("{} → {}", compact(old), compact(new)),
            ),
            _ => {}
        }
    }
    // Error envelope.
    match (&base.error_schema, &head.error_schema) {
        (Some((old_name, old)), Some((new_name, new))) => {
            if old_name != new_name {
                c.push(
                    "error-schema-changed",
                    "x-error-schema",
                    "",
                    format!("`{old_name}` → `{new_name}`"),
                );
            }
            compare_shapes(c, Side::Response, "error envelope", "", old, new, true);
        }
        (Some((old_name, _)), None) => c.push(
            "error-schema-changed",
            "x-error-schema",
            "",
            format!("`{old_name}` → none"),
        ),
        (None, Some((new_name, _))) => c.push(
            "error-schema-changed",
            "x-error-schema",
            "",
            format!("none → `{new_name}`"),
        ),
        (None, None) => {}
    }
    for status in base.error_responses.difference(&head.error_responses) {
        c.push("error-responses-removed", "x-error-responses", status, "");
    }
    for status in head.error_responses.difference(&base.error_responses) {
        c.push("error-responses-added", "x-error-responses", status, "");
    }
    if base.servers != head.servers {
        c.push(
            "servers-changed",
            "servers",
            "",
            format!("{} → {}", compact(&base.servers), compact(&head.servers)),
        );
    }
    if base.residue != head.residue {
        c.push(
            "unclassified-change",
            "document",
            "",
            "a document-level key changed (outside paths and components)",
        );
    }
}

fn compare_operation(
    c: &mut Collector,
    base: &ApiModel,
    head: &ApiModel,
    old: &Operation,
    new: &Operation,
) {
    if old.method != new.method || old.path != new.path {
        c.push(
            "operation-moved",
            "",
            "",
            format!("{} {} → {} {}", old.method, old.path, new.method, new.path),
        );
    }
    if old.deprecated != new.deprecated {
        let detail = if new.deprecated {
            "now deprecated"
        } else {
            "no longer deprecated"
        };
        c.push("operation-deprecation-changed", "", "", detail);
    }
    compare_parameters(c, old, new);
    compare_request_body(c, old, new);
    compare_responses(c, base, head, old, new);
    compare_security(c, &old.security, &new.security);
    compare_job(c, old.job.as_ref(), new.job.as_ref());
    if old.validation_error != new.validation_error {
        c.push(
            "validation-answer-changed",
            "x-validation-error",
            "",
            "the answer to invalid requests changed",
        );
    }
}

fn compare_parameters(c: &mut Collector, old: &Operation, new: &Operation) {
    let keys: BTreeSet<&(String, String)> =
        old.parameters.keys().chain(new.parameters.keys()).collect();
    for key in keys {
        let subject = format!("{} ({})", key.1, key.0);
        match (old.parameters.get(key), new.parameters.get(key)) {
            (Some(_), None) => c.push("parameter-removed", "parameter", &subject, ""),
            (None, Some(p)) if p.required => {
                c.push("parameter-added-required", "parameter", &subject, "")
            }
            (None, Some(_)) => c.push("parameter-added-optional", "parameter", &subject, ""),
            (Some(a), Some(b)) => {
                if !a.required && b.required {
                    c.push("parameter-made-required", "parameter", &subject, "");
                }
                if a.required && !b.required {
                    c.push("parameter-made-optional", "parameter", &subject, "");
                }
                if a.style != b.style || a.explode != b.explode {
                    c.push(
                        "parameter-style-changed",
                        "parameter",
                        &subject,
                        format!(
                            "{} (explode: {}) → {} (explode: {})",
                            a.style, a.explode, b.style, b.explode
                        ),
                    );
                }
                compare_shapes(
                    c,
                    Side::Request,
                    "parameter",
                    &subject,
                    &a.shape,
                    &b.shape,
                    b.required,
                );
            }
            (None, None) => {}
        }
    }
}

fn compare_request_body(c: &mut Collector, old: &Operation, new: &Operation) {
    match (&old.request_body, &new.request_body) {
        (Some(_), None) => c.push("request-body-removed", "request", "", ""),
        (None, Some(b)) if b.required => c.push(
            "request-body-added-required",
            "request",
            "",
            media_list(&b.content),
        ),
        (None, Some(b)) => c.push(
            "request-body-added-optional",
            "request",
            "",
            media_list(&b.content),
        ),
        (Some(a), Some(b)) => {
            if !a.required && b.required {
                c.push("request-body-made-required", "request", "", "");
            }
            if a.required && !b.required {
                c.push("request-body-made-optional", "request", "", "");
            }
            let media: BTreeSet<&String> = a.content.keys().chain(b.content.keys()).collect();
            for m in media {
                match (a.content.get(m), b.content.get(m)) {
                    (Some(_), None) => c.push("request-media-type-removed", "request", m, ""),
                    (None, Some(_)) => c.push("request-media-type-added", "request", m, ""),
                    (Some(x), Some(y)) => {
                        let place = format!("request {m}");
                        compare_shapes(c, Side::Request, &place, "", x, y, b.required);
                    }
                    (None, None) => {}
                }
            }
        }
        (None, None) => {}
    }
}

fn is_success(status: &str) -> bool {
    status.starts_with('2')
}

fn compare_responses(
    c: &mut Collector,
    base: &ApiModel,
    head: &ApiModel,
    old: &Operation,
    new: &Operation,
) {
    let statuses: BTreeSet<&String> = old.responses.keys().chain(new.responses.keys()).collect();
    for status in statuses {
        let kind = if is_success(status) {
            "success"
        } else {
            "error"
        };
        match (old.responses.get(status), new.responses.get(status)) {
            (Some(_), None) => c.push(&format!("{kind}-status-removed"), "response", status, ""),
            (None, Some(_)) => c.push(&format!("{kind}-status-added"), "response", status, ""),
            (Some(a), Some(b)) => compare_response(c, base, head, status, a, b),
            (None, None) => {}
        }
    }
}

fn compare_response(
    c: &mut Collector,
    base: &ApiModel,
    head: &ApiModel,
    status: &str,
    a: &Response,
    b: &Response,
) {
    let place = format!("response {status}");
    match (a.content.is_empty(), b.content.is_empty()) {
        (true, false) => c.push("response-body-added", &place, "", media_list(&b.content)),
        (false, true) => c.push("response-body-removed", &place, "", media_list(&a.content)),
        _ => {
            let media: BTreeSet<&String> = a.content.keys().chain(b.content.keys()).collect();
            for m in media {
                match (a.content.get(m), b.content.get(m)) {
                    (Some(_), None) => c.push("response-media-type-removed", &place, m, ""),
                    (None, Some(_)) => c.push("response-media-type-added", &place, m, ""),
                    (Some(x), Some(y)) => {
                        // The error envelope is compared once, for the whole document.
                        let envelope = |model: &ApiModel, shape: &Shape| {
                            matches!((&model.error_schema, &shape.reference),
                                (Some((name, _)), Some(r)) if name == r)
                        };
                        if envelope(base, x) && envelope(head, y) {
                            continue;
                        }
                        let place = format!("{place} {m}");
                        compare_shapes(c, Side::Response, &place, "", x, y, true);
                    }
                    (None, None) => {}
                }
            }
        }
    }
    let headers: BTreeSet<&String> = a.headers.keys().chain(b.headers.keys()).collect();
    let place = format!("response {status} header");
    for h in headers {
        match (a.headers.get(h), b.headers.get(h)) {
            (Some(_), None) => c.push("response-header-removed", &place, h, ""),
            (None, Some((true, _))) => c.push("response-header-added-required", &place, h, ""),
            (None, Some(_)) => c.push("response-header-added-optional", &place, h, ""),
            (Some((ra, x)), Some((rb, y))) => {
                if !ra && *rb {
                    c.push("response-header-made-required", &place, h, "");
                }
                if *ra && !rb {
                    c.push("response-header-made-optional", &place, h, "");
                }
                compare_shapes(c, Side::Response, &place, h, x, y, *rb);
            }
            (None, None) => {}
        }
    }
}

/// Compares two shapes at `subject` (a field path, empty for the body itself). `required` says whether
/// the value must be present in the head spec (it decides how a nullable change in a response counts).
fn compare_shapes(
    c: &mut Collector,
    side: Side,
    place: &str,
    subject: &str,
    old: &Shape,
    new: &Shape,
    required: bool,
) {
    if old.recursive && new.recursive && old.reference == new.reference {
        return;
    }
    let shown = if subject.is_empty() {
        "(body)"
    } else {
        subject
    };
    if let Some(direction) = type_direction(old, new) {
        let kind = match direction {
            Direction::Widened => "type-widened",
            Direction::Narrowed => "type-narrowed",
            Direction::Changed => "type-changed",
        };
        c.side(
            side,
            kind,
            place,
            shown,
            format!("{} → {}", type_text(old), type_text(new)),
        );
        if direction == Direction::Changed && old.ty != new.ty {
            // Nothing below a type that changed its kind compares meaningfully.
            return;
        }
    }
    if old.nullable != new.nullable {
        let kind = match (new.nullable, side, required) {
            (true, Side::Response, false) => "nullable-added-optional",
            (true, _, _) => "nullable-added",
            (false, _, _) => "nullable-removed",
        };
        c.side(side, kind, place, shown, String::new());
    }
    compare_constraints(c, side, place, shown, old, new);
    match (&old.enum_values, &new.enum_values) {
        (Some(a), Some(b)) => {
            for v in a.difference(b) {
                c.side(side, "enum-value-removed", place, shown, format!("`{v}`"));
            }
            for v in b.difference(a) {
                c.side(side, "enum-value-added", place, shown, format!("`{v}`"));
            }
        }
        (None, Some(b)) => c.side(
            side,
            "constraint-narrowed",
            place,
            shown,
            format!("enum introduced: {}", list(b)),
        ),
        (Some(a), None) => c.side(
            side,
            "constraint-widened",
            place,
            shown,
            format!("enum dropped (was {})", list(a)),
        ),
        (None, None) => {}
    }
    if old.default != new.default {
        let text = |v: &Option<Value>| v.as_ref().map(compact).unwrap_or_else(|| "none".into());
        c.side(
            side,
            "default-changed",
            place,
            shown,
            format!("{} → {}", text(&old.default), text(&new.default)),
        );
    }
    // Object properties.
    let names: BTreeSet<&String> = old.properties.keys().chain(new.properties.keys()).collect();
    for name in names {
        let path = join(subject, name);
        let field = match side {
            Side::Request => "request-field",
            Side::Response => "response-field",
        };
        match (old.properties.get(name), new.properties.get(name)) {
            (Some(_), None) => c.push(&format!("{field}-removed"), place, &path, ""),
            (None, Some((true, _))) => c.push(&format!("{field}-added-required"), place, &path, ""),
            (None, Some(_)) => c.push(&format!("{field}-added-optional"), place, &path, ""),
            (Some((ra, a)), Some((rb, b))) => {
                if !ra && *rb {
                    c.push(&format!("{field}-made-required"), place, &path, "");
                }
                if *ra && !rb {
                    c.push(&format!("{field}-made-optional"), place, &path, "");
                }
                compare_shapes(c, side, place, &path, a, b, *rb);
            }
            (None, None) => {}
        }
    }
    if let (Some(a), Some(b)) = (&old.additional, &new.additional) {
        compare_shapes(c, side, place, &join(subject, "{*}"), a, b, true);
    }
    if let (Some(a), Some(b)) = (&old.items, &new.items) {
        compare_shapes(c, side, place, &format!("{subject}[]"), a, b, true);
    }
    let variants: BTreeSet<&String> = old.variants.keys().chain(new.variants.keys()).collect();
    for v in variants {
        match (old.variants.get(v), new.variants.get(v)) {
            (Some(_), None) => c.side(side, "variant-removed", place, shown, format!("`{v}`")),
            (None, Some(_)) => c.side(side, "variant-added", place, shown, format!("`{v}`")),
            (Some(a), Some(b)) => {
                compare_shapes(c, side, place, &format!("{subject}<{v}>"), a, b, true)
            }
            (None, None) => {}
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// The new type admits every old value, and more.
    Widened,
    /// The old type admits every new value, and more.
    Narrowed,
    /// Neither contains the other.
    Changed,
}

fn type_text(shape: &Shape) -> String {
    match &shape.format {
        Some(f) => format!("{} ({f})", shape.ty),
        None => shape.ty.clone(),
    }
}

/// How the type and format moved, if they did.
fn type_direction(old: &Shape, new: &Shape) -> Option<Direction> {
    use Direction::*;
    if old.ty == new.ty && old.format == new.format {
        return None;
    }
    if old.ty == "recursive" || new.ty == "recursive" {
        return None;
    }
    if new.ty == "any" {
        return Some(Widened);
    }
    if old.ty == "any" {
        return Some(Narrowed);
    }
    // Formats that order their type's values: a larger rank admits more.
    fn rank(ty: &str, format: Option<&str>) -> Option<u8> {
        match (ty, format) {
            ("integer", Some("int32")) => Some(0),
            ("integer", Some("int64")) => Some(1),
            ("integer", _) => Some(2),
            ("number", Some("float")) => Some(3),
            ("number", Some("double")) => Some(4),
            ("number", _) => Some(5),
            _ => None,
        }
    }
    if let (Some(a), Some(b)) = (
        rank(&old.ty, old.format.as_deref()),
        rank(&new.ty, new.format.as_deref()),
    ) {
        // int32 → number widens, number → integer narrows. An unknown integer format ranks as
        // "integer" (2).
        return Some(if b > a { Widened } else { Narrowed });
    }
    if old.ty == new.ty {
        // Same type, other format: dropping a format widens, adding one narrows.
        return Some(match (&old.format, &new.format) {
            (Some(_), None) => Widened,
            (None, Some(_)) => Narrowed,
            _ => Changed,
        });
    }
    Some(Changed)
}

/// Compares each validation keyword on its own: whether moving it admits more values or fewer.
fn compare_constraints(
    c: &mut Collector,
    side: Side,
    place: &str,
    subject: &str,
    old: &Shape,
    new: &Shape,
) {
    let keys: BTreeSet<&String> = old
        .constraints
        .keys()
        .chain(new.constraints.keys())
        .collect();
    for key in keys {
        let (a, b) = (old.constraints.get(key), new.constraints.get(key));
        if a == b {
            continue;
        }
        let upper = key.starts_with("max") || key == "exclusiveMaximum";
        let lower = key.starts_with("min") || key == "exclusiveMinimum";
        let direction = match (a, b) {
            (Some(_), None) => Direction::Widened,
            (None, Some(_)) => Direction::Narrowed,
            (Some(x), Some(y)) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) if upper => {
                    if y > x {
                        Direction::Widened
                    } else {
                        Direction::Narrowed
                    }
                }
                (Some(x), Some(y)) if lower => {
                    if y < x {
                        Direction::Widened
                    } else {
                        Direction::Narrowed
                    }
                }
                _ => Direction::Changed,
            },
            (None, None) => continue,
        };
        let kind = match direction {
            Direction::Widened => "constraint-widened",
            // A changed pattern or multipleOf admits values the old one refused and refuses values
            // it admitted: it narrows, and reviewers read the detail.
            Direction::Narrowed | Direction::Changed => "constraint-narrowed",
        };
        let text = |v: Option<&Value>| v.map(compact).unwrap_or_else(|| "none".into());
        c.side(
            side,
            kind,
            place,
            subject,
            format!("{key}: {} → {}", text(a), text(b)),
        );
    }
}

fn compare_security(
    c: &mut Collector,
    old: &BTreeSet<BTreeSet<String>>,
    new: &BTreeSet<BTreeSet<String>>,
) {
    let text = |set: &BTreeSet<String>| {
        if set.is_empty() {
            "anonymous".to_string()
        } else {
            set.iter().cloned().collect::<Vec<_>>().join(" + ")
        }
    };
    for alternative in old.difference(new) {
        // Clients that send these credentials also satisfy any alternative needing fewer of them.
        match new.iter().find(|n| n.is_subset(alternative)) {
            Some(kept) => c.push(
                "security-requirement-relaxed",
                "security",
                &text(alternative),
                format!("still satisfies {}", text(kept)),
            ),
            None => c.push(
                "security-requirement-removed",
                "security",
                &text(alternative),
                "",
            ),
        }
    }
    for alternative in new.difference(old) {
        c.push(
            "security-requirement-added",
            "security",
            &text(alternative),
            "",
        );
    }
}

/// `x-job`: read from the raw value so that a job lint would refuse is still compared.
fn compare_job(c: &mut Collector, old: Option<&Value>, new: Option<&Value>) {
    let (old, new) = match (old, new) {
        (None, None) => return,
        (Some(_), None) => return c.push("job-removed", "x-job", "", ""),
        (None, Some(new)) => {
            let poll = new
                .pointer("/poll/operationId")
                .map(super::model::value_text)
                .unwrap_or_default();
            return c.push("job-added", "x-job", "", format!("polled with {poll}"));
        }
        (Some(a), Some(b)) => (a, b),
    };
    let part = |v: &Value, key: &str| v.get(key).cloned().unwrap_or(Value::Null);
    for (key, id) in [
        ("handle", "job-handle-changed"),
        ("poll", "job-poll-changed"),
        ("state", "job-state-location-changed"),
    ] {
        let (a, b) = (part(old, key), part(new, key));
        if a != b {
            c.push(
                id,
                "x-job",
                key,
                format!("{} → {}", compact(&a), compact(&b)),
            );
        }
    }
    let meanings = |v: &Value| -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (meaning, states) in v
            .get("states")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            for state in states.as_array().into_iter().flatten() {
                out.insert(super::model::value_text(state), meaning.clone());
            }
        }
        out
    };
    let (a, b) = (meanings(old), meanings(new));
    let states: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for state in states {
        match (a.get(state), b.get(state)) {
            (Some(m), None) => c.push("job-state-removed", "x-job states", state, m.clone()),
            (None, Some(m)) => c.push("job-state-added", "x-job states", state, m.clone()),
            (Some(x), Some(y)) if x != y => c.push(
                "job-state-meaning-changed",
                "x-job states",
                state,
                format!("{x} → {y}"),
            ),
            _ => {}
        }
    }
    let transitions = |v: &Value| -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (from, to) in v
            .get("transitions")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            for to in to.as_array().into_iter().flatten() {
                out.insert((from.clone(), super::model::value_text(to)));
            }
        }
        out
    };
    let (a, b) = (transitions(old), transitions(new));
    for (from, to) in a.difference(&b) {
        c.push(
            "job-transition-removed",
            "x-job transitions",
            &format!("{from} → {to}"),
            "",
        );
    }
    for (from, to) in b.difference(&a) {
        c.push(
            "job-transition-added",
            "x-job transitions",
            &format!("{from} → {to}"),
            "",
        );
    }
    match (old.get("cancel"), new.get("cancel")) {
        (None, Some(x)) => c.push("job-cancel-added", "x-job", "cancel", compact(x)),
        (Some(x), None) => c.push("job-cancel-removed", "x-job", "cancel", compact(x)),
        (Some(x), Some(y)) if x != y => c.push(
            "job-cancel-changed",
            "x-job",
            "cancel",
            format!("{} → {}", compact(x), compact(y)),
        ),
        _ => {}
    }
}

fn media_list(content: &BTreeMap<String, Shape>) -> String {
    content.keys().cloned().collect::<Vec<_>>().join(", ")
}

fn list(values: &BTreeSet<String>) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value as one line of JSON.
pub fn compact(value: &Value) -> String {
    value.to_string()
}
