//! `x-validation-error`: each rule's status is declared by every operation it applies to, and its
//! template, filled in, is a body that operation's response schema accepts.

use serde_json::Value;

use super::{is_json, Lint};
use crate::extensions::{self, ValidationErrorRule};
use crate::source::push_token;

pub(super) fn check(lint: &mut Lint<'_>) {
    let mut problems: Vec<(String, String)> = Vec::new();
    let document_rules = lint
        .doc
        .get("x-validation-error")
        .and_then(|raw| parse_rules(raw, "/x-validation-error", &mut problems));

    for op in &lint.operations {
        let (rules, rules_at) = match op.value.get("x-validation-error") {
            Some(raw) => {
                let at = push_token(&op.pointer, "x-validation-error");
                (parse_rules(raw, &at, &mut problems), at)
            }
            None => (document_rules.clone(), "/x-validation-error".to_string()),
        };
        for (i, rule) in rules.iter().flatten().enumerate() {
            let rule_at = format!("{rules_at}/{i}");
            let declared = op
                .value
                .get("responses")
                .and_then(|r| r.get(&rule.status))
                .is_some();
            if !declared {
                problems.push((
                    push_token(&op.pointer, "responses"),
                    format!(
                        "{} does not declare the validation-error response {} required by #{rule_at}",
                        op.label(),
                        rule.status
                    ),
                ));
                continue;
            }
            let Some(schema) =
                op.response_schema_pointer(lint.doc, &rule.status, &rule.content_type)
            else {
                problems.push((
                    push_token(&op.pointer, "responses"),
                    format!(
                        "{}'s response {} has no `{}` content for the validation error of #{rule_at}",
                        op.label(),
                        rule.status,
                        rule.content_type
                    ),
                ));
                continue;
            };
            let body = rule.render("example problem");
            if !is_json(&rule.content_type) && !body.is_string() {
                problems.push((
                    format!("{rule_at}/template"),
                    "a non-JSON template must be a string".into(),
                ));
                continue;
            }
            if let Err(errors) = lint.checker.check(&schema, &body) {
                for e in errors {
                    problems.push((
                        format!("{rule_at}/template"),
                        format!(
                            "template does not validate against #{schema} ({}): {e}",
                            op.label()
                        ),
                    ));
                }
            }
        }
    }
    for (pointer, message) in problems {
        lint.error(&pointer, message);
    }
}

fn parse_rules(
    raw: &Value,
    at: &str,
    problems: &mut Vec<(String, String)>,
) -> Option<Vec<ValidationErrorRule>> {
    match extensions::parse::<Vec<ValidationErrorRule>>(raw) {
        Ok(rules) => Some(rules),
        Err((pointer, message)) => {
            problems.push((
                format!("{at}{pointer}"),
                format!("malformed x-validation-error: {message}"),
            ));
            None
        }
    }
}
