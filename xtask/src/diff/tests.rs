//! The classification table: small edits of one spec, each with the kinds of change it must produce
//! and whether they are breaking. A case can run in reverse (the edit applied to the base instead of
//! the head), so one edit checks both directions of a rule pair (added/removed, widened/narrowed).

use std::collections::BTreeSet;

use super::compare::{compare, Change};
use super::model::ApiModel;
use super::prose;

/// A small spec with one of each construct the comparison knows: parameters of several styles, a
/// request body, response fields, headers, enums, an error envelope, security and an `x-job`.
const BASE: &str = r##"openapi: 3.0.3
info:
  title: Demo appliance
  version: "1"
servers:
  - url: https://demo.example/api
security:
  - basicAuth: []
x-error-schema: '#/components/schemas/Error'
x-error-responses: ["500"]
paths:
  /tasks:
    post:
      operationId: CreateTask
      summary: Start a task
      description: Starts a task.
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/TaskInput'
      responses:
        "202":
          description: Started.
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/TaskRef'
        "500":
          description: Failure.
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Error'
      x-job:
        handle:
          status: "202"
          in: body
          pointer: /id
        poll:
          operationId: GetTask
          parameter: id
        state:
          in: body
          pointer: /state
        states:
          running: [Running]
          succeeded: [Done]
          failed: [Failed]
        transitions:
          Running: [Done, Failed]
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
        - name: limit
          in: query
          required: false
          schema:
            type: integer
            format: int32
            maximum: 100
        - name: fields
          in: query
          style: form
          explode: false
          schema:
            type: array
            items:
              type: string
      responses:
        "200":
          description: The task.
          headers:
            X-Request-Id:
              schema:
                type: string
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Task'
        "404":
          description: No such task.
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Error'
        "500":
          description: Failure.
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Error'
components:
  securitySchemes:
    basicAuth:
      type: http
      scheme: basic
      description: User name and password.
  schemas:
    TaskInput:
      type: object
      required: [name]
      properties:
        name:
          type: string
          maxLength: 64
          description: The task's name.
        priority:
          type: string
          enum: [low, high]
    TaskRef:
      type: object
      required: [id]
      properties:
        id:
          type: string
    Task:
      type: object
      required: [id, state]
      properties:
        id:
          type: string
        state:
          type: string
          enum: [Running, Done, Failed]
        size:
          type: integer
          format: int32
        description:
          type: string
          description: A field called description is data, not prose.
        owner:
          type: object
          properties:
            name:
              type: string
    Error:
      type: object
      required: [code]
      properties:
        code:
          type: string
        message:
          type: string
"##;

struct Case {
    name: &'static str,
    /// Replacements applied to both sides first, for cases that need a construct the base lacks.
    common: &'static [(&'static str, &'static str)],
    /// Text replacements applied to the base spec (each `from` must occur).
    edits: &'static [(&'static str, &'static str)],
    /// Compare edited → base instead of base → edited.
    reverse: bool,
    /// Every rule id the comparison must report (no more, no fewer).
    kinds: &'static [&'static str],
    breaking: bool,
}

const fn case(
    name: &'static str,
    edits: &'static [(&'static str, &'static str)],
    kinds: &'static [&'static str],
    breaking: bool,
) -> Case {
    Case {
        name,
        common: &[],
        edits,
        reverse: false,
        kinds,
        breaking,
    }
}

const fn reverse(
    name: &'static str,
    edits: &'static [(&'static str, &'static str)],
    kinds: &'static [&'static str],
    breaking: bool,
) -> Case {
    Case {
        name,
        common: &[],
        edits,
        reverse: true,
        kinds,
        breaking,
    }
}

const ADD_OPERATION: &[(&str, &str)] = &[(
    "components:\n",
    "  /health:\n    get:\n      operationId: Health\n      responses:\n        \"200\":\n          description: Up.\ncomponents:\n",
)];
const LIMIT_INT64: &[(&str, &str)] = &[(
    "format: int32\n            maximum: 100",
    "format: int64\n            maximum: 100",
)];
const LIMIT_MAX: &[(&str, &str)] = &[("maximum: 100", "maximum: 1000")];
const LIMIT_REQUIRED: &[(&str, &str)] = &[(
    "in: query\n          required: false",
    "in: query\n          required: true",
)];
const PRIORITY_URGENT: &[(&str, &str)] = &[("enum: [low, high]", "enum: [low, high, urgent]")];
const STATE_CANCELLED: &[(&str, &str)] = &[(
    "enum: [Running, Done, Failed]",
    "enum: [Running, Done, Failed, Cancelled]",
)];
const SIZE_INT64: &[(&str, &str)] = &[(
    "format: int32\n        description:",
    "format: int64\n        description:",
)];
const CREATE_200: &[(&str, &str)] = &[(
    "        \"202\":\n          description: Started.",
    "        \"200\":\n          description: Done at once.\n        \"202\":\n          description: Started.",
)];
const CREATE_404: &[(&str, &str)] = &[(
    "        \"202\":\n          description: Started.",
    "        \"404\":\n          description: No such thing.\n          content:\n            application/json:\n              schema:\n                $ref: '#/components/schemas/Error'\n        \"202\":\n          description: Started.",
)];
const NO_JOB: &[(&str, &str)] = &[(
    "      x-job:\n        handle:",
    "      x-removed-job:\n        handle:",
)];
const BODY_OPTIONAL: &[(&str, &str)] = &[(
    "requestBody:\n        required: true",
    "requestBody:\n        required: false",
)];

fn cases() -> Vec<Case> {
    vec![
        // Documentation only.
        case("summary edited", &[("summary: Get a task", "summary: Fetch one task")], &[], false),
        case(
            "field description edited",
            &[("description: The task's name.", "description: The name of the task.")],
            &[],
            false,
        ),
        case(
            "security scheme description edited",
            &[("User name and password.", "HTTP Basic.")],
            &[],
            false,
        ),
        // A property called `description` is data, not prose.
        case(
            "response field named description removed",
            &[("        description:\n          type: string\n          description: A field called description is data, not prose.\n", "")],
            &["response-field-removed"],
            true,
        ),
        // Operations.
        case("operation added", ADD_OPERATION, &["operation-added"], false),
        reverse("operation removed", ADD_OPERATION, &["operation-removed"], true),
        case("operation moved", &[("  /tasks/{id}:", "  /task/{id}:")], &["operation-moved"], true),
        case(
            "operation deprecated",
            &[("summary: Get a task", "summary: Get a task\n      deprecated: true")],
            &["operation-deprecation-changed"],
            false,
        ),
        // Parameters.
        case(
            "required parameter added",
            &[("      parameters:\n", "      parameters:\n        - name: since\n          in: query\n          required: true\n          schema:\n            type: string\n")],
            &["parameter-added-required"],
            true,
        ),
        case(
            "optional parameter added",
            &[("      parameters:\n", "      parameters:\n        - name: since\n          in: query\n          schema:\n            type: string\n")],
            &["parameter-added-optional"],
            false,
        ),
        case(
            "parameter removed",
            &[("        - name: limit\n          in: query\n          required: false\n          schema:\n            type: integer\n            format: int32\n            maximum: 100\n", "")],
            &["parameter-removed"],
            true,
        ),
        case("parameter made required", LIMIT_REQUIRED, &["parameter-made-required"], true),
        reverse("parameter made optional", LIMIT_REQUIRED, &["parameter-made-optional"], false),
        case(
            "parameter style changed",
            &[("explode: false", "explode: true")],
            &["parameter-style-changed"],
            true,
        ),
        case(
            "parameters reordered",
            &[(
                "        - name: id\n          in: path\n          required: true\n          schema:\n            type: string\n",
                "",
            ), (
                "      responses:\n        \"200\":\n          description: The task.",
                "        - name: id\n          in: path\n          required: true\n          schema:\n            type: string\n      responses:\n        \"200\":\n          description: The task.",
            )],
            &[],
            false,
        ),
        case("request type widened (int32 → int64)", LIMIT_INT64, &["request-type-widened"], false),
        reverse("request type narrowed (int64 → int32)", LIMIT_INT64, &["request-type-narrowed"], true),
        case("request maximum raised", LIMIT_MAX, &["request-constraint-widened"], false),
        reverse("request maximum lowered", LIMIT_MAX, &["request-constraint-narrowed"], true),
        case(
            "request default added",
            &[("maximum: 100", "maximum: 100\n            default: 10")],
            &["request-default-changed"],
            false,
        ),
        // Request bodies.
        case(
            "required request field added",
            &[("required: [name]", "required: [name, owner]"), ("        priority:\n", "        owner:\n          type: string\n        priority:\n")],
            &["request-field-added-required"],
            true,
        ),
        case(
            "optional request field added",
            &[("        priority:\n", "        owner:\n          type: string\n        priority:\n")],
            &["request-field-added-optional"],
            false,
        ),
        case(
            "request field made required",
            &[("required: [name]", "required: [name, priority]")],
            &["request-field-made-required"],
            true,
        ),
        case(
            "request field removed",
            &[("        priority:\n          type: string\n          enum: [low, high]\n", "")],
            &["request-field-removed"],
            true,
        ),
        case(
            "request type changed (string → integer)",
            &[("          type: string\n          maxLength: 64", "          type: integer\n          maxLength: 64")],
            &["request-type-changed"],
            true,
        ),
        case("request enum value added", PRIORITY_URGENT, &["request-enum-value-added"], false),
        reverse("request enum value removed", PRIORITY_URGENT, &["request-enum-value-removed"], true),
        case("request body made optional", BODY_OPTIONAL, &["request-body-made-optional"], false),
        reverse("request body made required", BODY_OPTIONAL, &["request-body-made-required"], true),
        // Responses.
        case(
            "optional response field added",
            &[("        owner:\n          type: object", "        progress:\n          type: number\n        owner:\n          type: object")],
            &["response-field-added-optional"],
            false,
        ),
        case(
            "required response field added",
            &[("required: [id, state]", "required: [id, state, progress]"), ("        owner:\n          type: object", "        progress:\n          type: number\n        owner:\n          type: object")],
            &["response-field-added-required"],
            true,
        ),
        case(
            "response field removed",
            &[("        size:\n          type: integer\n          format: int32\n", "")],
            &["response-field-removed"],
            true,
        ),
        case(
            "response field made optional",
            &[("required: [id, state]", "required: [id]")],
            &["response-field-made-optional"],
            true,
        ),
        case(
            "nested response field added",
            &[("            name:\n              type: string\n", "            name:\n              type: string\n            email:\n              type: string\n")],
            &["response-field-added-optional"],
            false,
        ),
        case("response enum value added (open enums)", STATE_CANCELLED, &["response-enum-value-added"], false),
        reverse("response enum value removed", STATE_CANCELLED, &["response-enum-value-removed"], true),
        case("response type widened (int32 → int64)", SIZE_INT64, &["response-type-widened"], true),
        reverse("response type narrowed (int64 → int32)", SIZE_INT64, &["response-type-narrowed"], true),
        case(
            "required response field made nullable",
            &[("        id:\n          type: string\n        state:", "        id:\n          type: string\n          nullable: true\n        state:")],
            &["response-nullable-added"],
            true,
        ),
        case(
            "optional response field made nullable",
            &[("format: int32\n        description:", "format: int32\n          nullable: true\n        description:")],
            &["response-nullable-added-optional"],
            false,
        ),
        case("success status added", CREATE_200, &["success-status-added"], true),
        reverse("success status removed", CREATE_200, &["success-status-removed"], true),
        case("error status added", CREATE_404, &["error-status-added"], false),
        reverse("error status removed", CREATE_404, &["error-status-removed"], true),
        case(
            "response media type added",
            &[("                $ref: '#/components/schemas/Task'\n", "                $ref: '#/components/schemas/Task'\n            text/plain:\n              schema:\n                type: string\n")],
            &["response-media-type-added"],
            true,
        ),
        case(
            "response header removed",
            &[("          headers:\n            X-Request-Id:\n              schema:\n                type: string\n", "")],
            &["response-header-removed"],
            true,
        ),
        case(
            "inline schema moved into a $ref (refactoring)",
            &[(
                "              schema:\n                $ref: '#/components/schemas/TaskRef'\n",
                "              schema:\n                type: object\n                required: [id]\n                properties:\n                  id:\n                    type: string\n",
            )],
            &[],
            false,
        ),
        // Error envelope: compared once, not in every operation.
        case(
            "error envelope field removed",
            &[("        code:\n          type: string\n        message:\n          type: string\n", "        code:\n          type: string\n")],
            &["response-field-removed"],
            true,
        ),
        case(
            "error envelope field added",
            &[("        message:\n          type: string\n", "        message:\n          type: string\n        details:\n          type: string\n")],
            &["response-field-added-optional"],
            false,
        ),
        case(
            "x-error-responses gains a status",
            &[("x-error-responses: [\"500\"]", "x-error-responses: [\"500\", \"503\"]")],
            &["error-responses-added"],
            false,
        ),
        case(
            "x-validation-error added",
            &[("x-error-responses: [\"500\"]\n", "x-error-responses: [\"500\"]\nx-validation-error:\n  - status: \"500\"\n    contentType: text/plain\n    template: \"{message}\"\n")],
            &["validation-answer-changed"],
            true,
        ),
        // Security.
        case(
            "security alternative added",
            &[
                ("security:\n  - basicAuth: []\n", "security:\n  - basicAuth: []\n  - apiKey: []\n"),
                ("  securitySchemes:\n", "  securitySchemes:\n    apiKey:\n      type: apiKey\n      in: header\n      name: X-Api-Key\n"),
            ],
            &["security-scheme-added", "security-requirement-added"],
            false,
        ),
        case(
            "security scheme replaced",
            &[
                ("security:\n  - basicAuth: []\n", "security:\n  - apiKey: []\n"),
                ("  securitySchemes:\n", "  securitySchemes:\n    apiKey:\n      type: apiKey\n      in: header\n      name: X-Api-Key\n"),
            ],
            &["security-scheme-added", "security-requirement-added", "security-requirement-removed"],
            true,
        ),
        case(
            "operation opened to anonymous access",
            &[("summary: Get a task\n", "summary: Get a task\n      security: []\n")],
            &["security-requirement-relaxed", "security-requirement-added"],
            false,
        ),
        case(
            "security scheme changed",
            &[("scheme: basic", "scheme: bearer")],
            &["security-scheme-changed"],
            true,
        ),
        // Jobs.
        case(
            "job state added",
            &[("running: [Running]", "running: [Queued, Running]"), ("enum: [Running, Done, Failed]", "enum: [Queued, Running, Done, Failed]")],
            &["job-state-added", "response-enum-value-added"],
            true,
        ),
        case(
            "job state meaning changed",
            &[("succeeded: [Done]\n          failed: [Failed]", "succeeded: [Done, Failed]\n          failed: []")],
            &["job-state-meaning-changed"],
            true,
        ),
        case(
            "job transition removed",
            &[("Running: [Done, Failed]", "Running: [Done]")],
            &["job-transition-removed"],
            true,
        ),
        case(
            "job poll operation changed",
            &[("operationId: GetTask\n          parameter: id", "operationId: GetTask\n          parameter: taskId")],
            &["job-poll-changed"],
            true,
        ),
        case("job removed", NO_JOB, &["job-removed"], true),
        reverse("job added", NO_JOB, &["job-added"], false),
        with(
            ONE_OF,
            "response alternative added",
            &[("            - $ref: '#/components/schemas/Group'\n", "            - $ref: '#/components/schemas/Group'\n            - $ref: '#/components/schemas/Robot'\n")],
            &["response-variant-added"],
            true,
        ),
        with(
            ONE_OF,
            "response alternative removed",
            &[("            - $ref: '#/components/schemas/Group'\n", "")],
            &["response-variant-removed"],
            true,
        ),
        with(
            ONE_OF,
            "field of a response alternative added",
            &[("        members:\n          type: integer\n", "        members:\n          type: integer\n        admin:\n          type: boolean\n")],
            &["response-field-added-optional"],
            false,
        ),
        case(
            "request object closed (additionalProperties: false)",
            &[("    TaskInput:\n      type: object\n", "    TaskInput:\n      type: object\n      additionalProperties: false\n")],
            &["request-constraint-narrowed"],
            true,
        ),
        case(
            "request field made read-only",
            &[("          enum: [low, high]\n", "          enum: [low, high]\n          readOnly: true\n")],
            &["request-field-removed"],
            true,
        ),
        // The rest.
        case(
            "server URL changed",
            &[("https://demo.example/api", "https://demo.example/api/v2")],
            &["servers-changed"],
            false,
        ),
    ]
}

/// A case on a base spec that already has `common` applied.
const fn with(
    common: &'static [(&'static str, &'static str)],
    name: &'static str,
    edits: &'static [(&'static str, &'static str)],
    kinds: &'static [&'static str],
    breaking: bool,
) -> Case {
    Case {
        name,
        common,
        edits,
        reverse: false,
        kinds,
        breaking,
    }
}

/// Task.owner as a oneOf of two components.
const ONE_OF: &[(&str, &str)] = &[
    (
        "        owner:\n          type: object\n          properties:\n            name:\n              type: string\n",
        "        owner:\n          oneOf:\n            - $ref: '#/components/schemas/User'\n            - $ref: '#/components/schemas/Group'\n",
    ),
    (
        "    Error:\n",
        "    User:\n      type: object\n      properties:\n        login:\n          type: string\n    Group:\n      type: object\n      properties:\n        members:\n          type: integer\n    Robot:\n      type: object\n      properties:\n        serial:\n          type: string\n    Error:\n",
    ),
];

fn apply_to(text: &str, edits: &[(&str, &str)], name: &str) -> String {
    let mut text = text.to_string();
    for (from, to) in edits {
        assert!(
            text.contains(from),
            "case `{name}`: `{from}` is not in the spec"
        );
        text = text.replacen(from, to, 1);
    }
    text
}

fn apply(edits: &[(&str, &str)], name: &str) -> String {
    let mut text = BASE.to_string();
    for (from, to) in edits {
        assert!(
            text.contains(from),
            "case `{name}`: `{from}` is not in the base spec"
        );
        text = text.replacen(from, to, 1);
    }
    text
}

/// Changes and documentation edits between two spec texts (both must load).
fn classify(base: &str, head: &str) -> (Vec<Change>, Vec<Change>) {
    let load = |label: &str, text: &str| {
        codegen::load(label, text).unwrap_or_else(|d| {
            let lines: Vec<String> = d.iter().map(ToString::to_string).collect();
            panic!("{label} does not load:\n{}", lines.join("\n"))
        })
    };
    let (a, b) = (load("base", base), load("head", head));
    (
        compare(&ApiModel::build(a.value()), &ApiModel::build(b.value())),
        prose::changes(a.value(), b.value()),
    )
}

#[test]
fn classification_table() {
    let cases = cases();
    assert!(cases.len() >= 25);
    let mut failures = Vec::new();
    for case in &cases {
        let base = apply_to(BASE, case.common, case.name);
        let edited = apply_to(&base, case.edits, case.name);
        let (changes, _) = if case.reverse {
            classify(&edited, &base)
        } else {
            classify(&base, &edited)
        };
        let got: BTreeSet<&str> = changes.iter().map(|c| c.rule.id).collect();
        let want: BTreeSet<&str> = case.kinds.iter().copied().collect();
        let breaking = changes.iter().any(Change::breaking);
        if got != want || breaking != case.breaking {
            failures.push(format!(
                "{}: got {got:?} (breaking: {breaking}), want {want:?} (breaking: {})\n{changes:#?}",
                case.name, case.breaking
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn prose_edits_are_reported_and_never_breaking() {
    let edited = apply(
        &[
            ("summary: Get a task", "summary: Fetch one task"),
            ("description: The task's name.", "description: The name."),
        ],
        "prose",
    );
    let (changes, prose) = classify(BASE, &edited);
    assert!(changes.is_empty(), "{changes:#?}");
    let pointers: Vec<&str> = prose.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(
        pointers,
        [
            "#/paths/~1tasks~1{id}/get/summary",
            "#/components/schemas/TaskInput/properties/name/description",
        ]
    );
    assert!(prose.iter().all(|c| !c.breaking()));
}

#[test]
fn a_change_in_a_shared_schema_is_reported_per_operation() {
    let edited = apply(
        &[(
            "        id:\n          type: string\n    Task:",
            "        id:\n          type: string\n        href:\n          type: string\n    Task:",
        )],
        "shared",
    );
    let (changes, _) = classify(BASE, &edited);
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0].operation.as_deref(), Some("CreateTask"));
    assert_eq!(changes[0].place, "response 202 application/json");
    assert_eq!(changes[0].subject, "href");
}

#[test]
fn error_envelope_changes_are_reported_once_for_the_document() {
    let edited = apply(
        &[(
            "        message:\n          type: string\n",
            "        message:\n          type: integer\n",
        )],
        "envelope",
    );
    let (changes, _) = classify(BASE, &edited);
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0].operation, None);
    assert_eq!(changes[0].place, "error envelope");
    assert_eq!(changes[0].rule.id, "response-type-changed");
}

#[test]
fn a_spec_that_does_not_load_is_reported_naming_the_revision_and_file() {
    let base = super::Revision::Git("v1".to_string());
    let head = super::Revision::WorkingTree;
    let broken = Ok("openapi: 3.0.3\ninfo: [not, a, mapping\n".to_string());
    let fine = Ok(BASE.to_string());
    let report = super::review_spec("demo.yaml", (&base, Some(&broken)), (&head, Some(&fine)));
    assert_eq!(report.status, super::SpecStatus::NotCompared);
    assert!(!report.head_broken);
    assert!(
        report.problems[0].starts_with("v1:specs/demo.yaml does not load at v1"),
        "{:?}",
        report.problems
    );
    assert!(
        report.problems[1].starts_with("v1:specs/demo.yaml:"),
        "{:?}",
        report.problems
    );
    let markdown = super::render::markdown(&super::Report {
        base: "v1".into(),
        head: "working tree".into(),
        specs: vec![report],
    });
    assert!(markdown.contains("v1:specs/demo.yaml"), "{markdown}");
}

#[test]
fn the_generated_public_api_difference_is_listed() {
    let edited = apply(
        &[(
            "        size:\n          type: integer\n          format: int32\n",
            "",
        )],
        "api",
    );
    let base = super::Revision::Git("v1".to_string());
    let head = super::Revision::WorkingTree;
    let (a, b) = (Ok(BASE.to_string()), Ok(edited));
    let report = super::review_spec("demo.yaml", (&base, Some(&a)), (&head, Some(&b)));
    let Some(super::CrateApi::Diff(diff)) = &report.api else {
        panic!("{:?}", report.api);
    };
    let removed: Vec<String> = diff.removed.iter().map(|i| i.line()).collect();
    assert!(
        removed
            .iter()
            .any(|l| l.starts_with("field demo::types::Task::size")),
        "{removed:?}"
    );
}

/// The real specs: each compared with itself has no change, and an edit of the ZStack spec (shared
/// schemas, `allOf`, a discriminated `oneOf`, anchors) gives exactly the change it should, in every
/// operation it reaches, with the generated enum variant gone.
#[test]
fn real_specs() {
    let root = crate::project::root();
    for spec in crate::project::specs().unwrap() {
        let text = std::fs::read_to_string(&spec).unwrap();
        let (changes, prose) = classify(&text, &text);
        assert!(changes.is_empty() && prose.is_empty(), "{}", spec.display());
    }
    let text = std::fs::read_to_string(root.join("specs/zstack.yaml")).unwrap();
    let from = "enum: [Enabled, Disabled]";
    assert!(
        text.contains(from),
        "the ZStack spec changed: update this test"
    );
    let edited = text.replacen(from, "enum: [Enabled]", 1);
    let (base, head) = (
        super::Revision::Git("HEAD".into()),
        super::Revision::WorkingTree,
    );
    let (a, b) = (Ok(text), Ok(edited));
    let report = super::review_spec("zstack.yaml", (&base, Some(&a)), (&head, Some(&b)));
    assert_eq!(report.status, super::SpecStatus::Changed);
    let kinds: BTreeSet<&str> = report.changes.iter().map(|c| c.rule.id).collect();
    assert_eq!(kinds, BTreeSet::from(["response-enum-value-removed"]));
    assert!(report.changes.len() > 1, "{:#?}", report.changes);
    assert!(report.changes.iter().all(|c| c.detail == "`Disabled`"));
    let Some(super::CrateApi::Diff(api)) = &report.api else {
        panic!("{:?}", report.api);
    };
    assert!(
        api.removed
            .iter()
            .any(|i| i.kind == "variant" && i.path.ends_with("::Disabled")),
        "{api:#?}"
    );
    assert!(api.added.is_empty(), "{api:#?}");
}
