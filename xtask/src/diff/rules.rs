//! The classification rules: every kind of change `cargo xtask diff` reports, and whether it breaks
//! each of the two audiences of a spec.
//!
//! A spec has two audiences, and a change can break one without the other:
//!
//! - **client**: a program built on the client generated from the *base* spec, talking to an appliance
//!   that behaves as the *head* spec says. It breaks when a request it sends may now be refused, when a
//!   response it receives may no longer decode, or when something it relied on disappears (an operation,
//!   a response field, a success status).
//! - **appliance**: an appliance that passed the conformance suite of the *base* spec, checked by the
//!   suite of the *head* spec. The suite checks what the appliance answers, so it breaks when the head
//!   spec narrows a response (a field made required, an enum value or a status removed, a tighter type)
//!   or changes how invalid requests and jobs are answered.
//!
//! Direction matters, so requests and responses have rules of their own: widening a request type is
//! harmless (old clients' values still fit) while widening a response type is not (old clients may
//! receive values they cannot decode); an enum value added to a response is harmless because generated
//! string enums are open, while a value removed from a request refuses what old clients may send.
//!
//! The classification is about the wire and about behaviour. What user code may stop *compiling* is
//! reported separately, from the generated crates themselves (see `public_api.rs`).
//!
//! Every rule lives in [`RULES`], so the table below is the documentation: `cargo xtask diff --rules`
//! prints it, and a test checks that every rule the comparison uses exists.

/// One classification rule.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// The kind of change, kebab-case; stable, used in JSON output and tests.
    pub id: &'static str,
    /// Breaks programs using the client generated from the base spec.
    pub client: bool,
    /// Breaks appliances that passed the base spec's conformance suite.
    pub appliance: bool,
    /// Why, in one sentence a reviewer can act on.
    pub why: &'static str,
}

impl Rule {
    pub fn breaking(&self) -> bool {
        self.client || self.appliance
    }
}

const B: bool = true;
const C: bool = false;

macro_rules! rules {
    ($($id:literal $client:ident $appliance:ident $why:literal,)*) => {
        /// Every rule, in the order the documentation lists them.
        pub static RULES: &[Rule] = &[$(Rule { id: $id, client: $client, appliance: $appliance, why: $why },)*];
    };
}

rules! {
    // Specs and operations.
    "spec-added" C C "a new spec: a new generated crate",
    "spec-removed" B C "the generated crate and every operation of the spec disappear",
    "operation-added" C C "clients gain a method; the conformance suite gains checks",
    "operation-removed" B C "code calling the generated method stops working, and the appliance no longer promises an answer",
    "operation-moved" B B "the same operationId at another method or path: old clients call an address the appliance no longer serves",
    "operation-deprecation-changed" C C "deprecation is advice; the operation still works",
    // Parameters.
    "parameter-added-required" B C "old clients do not send it, so the appliance may refuse their requests",
    "parameter-added-optional" C C "old clients omit it, which the spec allows",
    "parameter-removed" B C "old clients still send it, but the appliance no longer acts on it (a filter or option silently stops applying)",
    "parameter-made-required" B C "old clients may omit it, so the appliance may refuse their requests",
    "parameter-made-optional" C C "old clients still send it, which the spec still allows",
    "parameter-style-changed" B B "the value is serialized differently: old clients send what the appliance no longer parses",
    // Request bodies.
    "request-body-added-required" B C "old clients send no body, so the appliance may refuse their requests",
    "request-body-added-optional" C C "old clients send no body, which the spec allows",
    "request-body-removed" B C "old clients send a body the appliance no longer reads",
    "request-body-made-required" B C "old clients may send no body",
    "request-body-made-optional" C C "old clients still send a body, which the spec still allows",
    "request-media-type-added" C C "old clients keep sending the content types they know",
    "request-media-type-removed" B C "old clients may send a content type the appliance refuses",
    "request-field-added-required" B C "old clients do not send it, so the appliance may refuse their requests",
    "request-field-added-optional" C C "old clients omit it, which the spec allows",
    "request-field-removed" B C "old clients still send it, but the appliance no longer acts on it (or refuses it)",
    "request-field-made-required" B C "old clients may omit it, so the appliance may refuse their requests",
    "request-field-made-optional" C C "old clients still send it, which the spec still allows",
    // Request values: parameters and request body fields.
    "request-type-widened" C C "every value old clients send still fits",
    "request-type-narrowed" B C "values old clients send may be refused",
    "request-type-changed" B B "the old and new types do not contain each other: old clients' values are refused, and the suite sends values old appliances do not expect",
    "request-nullable-added" C C "old clients never send null, which is still allowed",
    "request-nullable-removed" B C "old clients may send null and be refused",
    "request-constraint-widened" C C "every value old clients send still passes",
    "request-constraint-narrowed" B C "values old clients send may now fail validation",
    "request-enum-value-added" C C "old clients never send the new value",
    "request-enum-value-removed" B C "old clients may send the removed value and be refused",
    "request-variant-added" C C "old clients never send the new alternative",
    "request-variant-removed" B C "old clients may send the removed alternative and be refused",
    "request-default-changed" C C "not breaking, but clients that omit the value get another behaviour: check it is intended",
    // Responses.
    "success-status-added" B C "old clients treat the new success as an error (Error::UnexpectedStatus)",
    "success-status-removed" B B "code handling that success loses it, and appliances that answer it fail the suite",
    "error-status-added" C C "old clients see it as an unexpected status, which is an error either way",
    "error-status-removed" C B "appliances that answer it fail the suite",
    "response-body-added" C B "old appliances answer without a body and fail the suite; old clients ignore the body",
    "response-body-removed" B C "old clients expect a body the appliance no longer sends",
    "response-media-type-added" B C "old clients cannot decode the new content type",
    "response-media-type-removed" C B "appliances that answer with it fail the suite",
    "response-field-added-required" C B "old appliances do not send it and fail the suite; old clients ignore it",
    "response-field-added-optional" C C "old clients ignore it and old appliances may omit it",
    "response-field-removed" B C "clients that read it lose it (and decoding fails if they required it)",
    "response-field-made-required" C B "old appliances may omit it and fail the suite",
    "response-field-made-optional" B C "old clients require it and fail to decode a response without it",
    "response-header-added-required" C B "old appliances do not send it and fail the suite",
    "response-header-added-optional" C C "old clients ignore it and old appliances may omit it",
    "response-header-removed" B C "clients that read it lose it",
    "response-header-made-required" C B "old appliances may omit it and fail the suite",
    "response-header-made-optional" B C "old clients may expect it",
    // Response values: response body fields and headers.
    "response-type-widened" B C "old clients may receive values they cannot decode",
    "response-type-narrowed" C B "values old appliances send may no longer conform",
    "response-type-changed" B B "the old and new types do not contain each other: neither side's values fit the other",
    "response-nullable-added" B C "old clients decode the required field without null, so null fails",
    "response-nullable-added-optional" C C "old clients decode an optional field, where null reads as absent",
    "response-nullable-removed" C B "old appliances may send null and fail the suite",
    "response-constraint-widened" C C "generated clients do not check response constraints, and old appliances' values still pass",
    "response-constraint-narrowed" C B "values old appliances send may fail the suite",
    "response-enum-value-added" C C "generated string enums are open: old clients keep an unknown value as it is",
    "response-enum-value-removed" C B "old appliances may send the removed value and fail the suite",
    "response-variant-added" B C "old clients cannot decode the new alternative",
    "response-variant-removed" C B "old appliances may answer with the removed alternative and fail the suite",
    "response-default-changed" C C "a response default is documentation for readers of the spec",
    // Security.
    "security-requirement-added" C C "a new way to authenticate; the old ones still work",
    "security-requirement-removed" B C "clients that authenticate this way (or anonymously) are refused",
    "security-requirement-relaxed" C C "an alternative was dropped, but one needing a part of its credentials remains, so old clients still pass",
    "security-scheme-added" C C "a new scheme; nothing used the old spec's schemes differently",
    "security-scheme-removed" B C "clients that authenticate with it are refused",
    "security-scheme-changed" B B "credentials are sent (or checked) another way",
    // Jobs (x-job).
    "job-added" C C "clients gain a waiter; the conformance suite gains job checks",
    "job-removed" B C "the generated waiter and job handle disappear",
    "job-handle-changed" B B "old clients look for the job handle where the appliance no longer puts it",
    "job-poll-changed" B B "old clients poll another operation or parameter than the appliance expects",
    "job-state-location-changed" B B "old clients read the job state where the appliance no longer reports it",
    "job-state-added" B C "old waiters do not know the new state and stop with an error",
    "job-state-removed" C B "old appliances may report the removed state and fail the suite",
    "job-state-meaning-changed" B B "old clients and old appliances disagree on what the state means",
    "job-transition-added" B C "old waiters report the new move as an illegal transition",
    "job-transition-removed" C B "old appliances may make the removed move and fail the suite",
    "job-cancel-added" C C "clients gain a way to cancel",
    "job-cancel-removed" B C "the generated cancel call disappears or fails",
    "job-cancel-changed" B B "old clients cancel through another operation or parameter than the appliance expects",
    // Error envelope and validation answers (x-error-schema, x-error-responses, x-validation-error).
    "error-schema-changed" B B "errors are decoded as (and checked against) another schema",
    "error-responses-added" C C "a status every operation must declare; each operation's own status changes carry the effect",
    "error-responses-removed" C C "a status no longer required of every operation; each operation's own status changes carry the effect",
    "validation-answer-changed" C B "the suite checks that appliances answer invalid requests this new way",
    // Everything else.
    "prose-changed" C C "descriptions, summaries, titles, examples and tags are documentation only",
    "servers-changed" C C "server URLs are defaults; clients choose their base URL",
    "unclassified-change" C C "a change this command does not model: review it by hand",
}

/// The rule with this id. Panics on an unknown id: every id the comparison uses is a literal, and a
/// test checks them all.
pub fn rule(id: &str) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no classification rule `{id}`"))
}

/// The rules as a markdown table, for `cargo xtask diff --rules` and the documentation.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| change | breaks clients | breaks appliances | why |\n| --- | --- | --- | --- |\n",
    );
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    for r in RULES {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            r.id,
            yes_no(r.client),
            yes_no(r.appliance),
            r.why
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_and_kebab_case() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        for id in &ids {
            assert!(
                id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{id}"
            );
        }
        ids.sort();
        let len = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), len, "duplicate rule id");
    }

    #[test]
    fn prose_is_never_breaking() {
        assert!(!rule("prose-changed").breaking());
    }

    /// Every rule id the comparison names literally exists (the others, built with a side prefix,
    /// are exercised by the classification table in `tests.rs`).
    #[test]
    fn every_rule_used_exists() {
        let sources = [include_str!("compare.rs"), include_str!("prose.rs")];
        let mut checked = 0;
        for source in sources {
            for (call, prefixes) in [
                ("push(", &[""][..]),
                ("side(", &["request-", "response-"][..]),
            ] {
                for piece in source.split(call).skip(1) {
                    let piece = piece.trim_start();
                    let piece = piece.strip_prefix("side,").unwrap_or(piece).trim_start();
                    let Some(rest) = piece.strip_prefix('"') else {
                        continue;
                    };
                    let id = &rest[..rest.find('"').unwrap()];
                    assert!(
                        prefixes
                            .iter()
                            .any(|p| RULES.iter().any(|r| r.id == format!("{p}{id}"))),
                        "unknown rule `{id}`"
                    );
                    checked += 1;
                }
            }
        }
        assert!(
            checked > 40,
            "only {checked} rule ids found: is the scan broken?"
        );
    }
}
