//! Every Rust name the generator emits is made here: case conversion, keywords, leading digits,
//! punctuation, and collisions. A [`Name`] keeps the API's own spelling beside the Rust one, so serde
//! renames and wire encodings always use what the spec says.

use std::collections::BTreeSet;

use heck::{ToPascalCase, ToSnakeCase};

/// A name as the API spells it and as Rust code spells it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name {
    pub api: String,
    pub rust: String,
}

/// Rust keywords (strict and reserved, 2021 edition) that cannot be identifiers as they are.
const KEYWORDS: [&str; 51] = [
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// Words that are keywords but cannot be raw identifiers either.
const NOT_RAW: [&str; 5] = ["crate", "self", "Self", "super", "_"];

/// Splits on anything that is not a letter or digit, so `x-ibm-tenant-id`, `fix_id_list`,
/// `$filter` and `application/json` all become words; spells symbols that would vanish.
fn words(api: &str) -> String {
    let spelled = match api {
        "+" => "plus".to_string(),
        "-" => "minus".to_string(),
        "*" => "star".to_string(),
        "=" => "eq".to_string(),
        "<" => "lt".to_string(),
        ">" => "gt".to_string(),
        "" => "empty".to_string(),
        other => other.to_string(),
    };
    spelled
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect::<String>()
}

fn fix_start(ident: String, fallback: &str) -> String {
    if ident.is_empty() {
        fallback.to_string()
    } else if ident.starts_with(|c: char| c.is_ascii_digit()) {
        format!("{fallback}{ident}")
    } else {
        ident
    }
}

fn fix_keyword(ident: String) -> String {
    if NOT_RAW.contains(&ident.as_str()) {
        format!("{ident}_")
    } else if KEYWORDS.contains(&ident.as_str()) {
        format!("r#{ident}")
    } else {
        ident
    }
}

/// A type or variant name: `PascalCase`.
pub fn type_name(api: &str) -> Name {
    let mut rust = words(api).to_pascal_case();
    if !api.is_empty() && rust.is_empty() {
        rust = symbol_name(api);
    }
    let rust = fix_start(rust, "V");
    let rust = if rust == "Self" {
        "Self_".to_string()
    } else {
        rust
    };
    Name {
        api: api.to_string(),
        rust,
    }
}

/// A field, method, parameter or module name: `snake_case`.
pub fn value_name(api: &str) -> Name {
    let mut rust = words(api).to_snake_case();
    if !api.is_empty() && rust.is_empty() {
        rust = symbol_name(api).to_snake_case();
    }
    let rust = fix_keyword(fix_start(rust, "n"));
    Name {
        api: api.to_string(),
        rust,
    }
}

/// Names made only of punctuation (`$`, `@`, `#`) still need a stable, distinct identifier.
fn symbol_name(api: &str) -> String {
    let mut out = String::from("Sym");
    for c in api.chars() {
        out.push_str(&format!("{:X}", c as u32));
    }
    out
}

/// Hands out names that are unique within one scope (the types of a crate, the fields of a struct,
/// the variants of an enum), appending a number when two API names map to the same Rust name.
#[derive(Debug, Default)]
pub struct Scope {
    taken: BTreeSet<String>,
}

impl Scope {
    pub fn new() -> Scope {
        Scope::default()
    }

    /// Reserves `name.rust`, or the first of `name.rust2`, `name.rust3`, ... that is free.
    pub fn claim(&mut self, mut name: Name) -> Name {
        let base = name
            .rust
            .trim_start_matches("r#")
            .trim_end_matches('_')
            .to_string();
        let mut candidate = name.rust.clone();
        let mut n = 2;
        while !self
            .taken
            .insert(candidate.trim_start_matches("r#").to_string())
        {
            candidate = format!("{base}{n}");
            n += 1;
        }
        name.rust = candidate;
        name
    }

    /// Reserves a name as is; returns false when it was already taken.
    pub fn reserve(&mut self, rust: &str) -> bool {
        self.taken.insert(rust.trim_start_matches("r#").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(api: &str, ty: &str, value: &str) {
        assert_eq!(type_name(api).rust, ty, "type name of {api:?}");
        assert_eq!(value_name(api).rust, value, "value name of {api:?}");
    }

    #[test]
    fn cursed_names() {
        check("type", "Type", "r#type");
        check("ref", "Ref", "r#ref");
        check("self", "Self_", "self_");
        check("Self", "Self_", "self_");
        check("in", "In", "r#in");
        check("crate", "Crate", "crate_");
        check("-", "Minus", "minus");
        check("+", "Plus", "plus");
        check("", "Empty", "empty");
        check("1st", "V1st", "n1st");
        check("200", "V200", "n200");
        check("x-ibm-tenant-id", "XIbmTenantId", "x_ibm_tenant_id");
        check("fix_id_list", "FixIdList", "fix_id_list");
        check("jobUID", "JobUid", "job_uid");
        check("URL", "Url", "url");
        check("$filter", "Filter", "filter");
        check("$", "Sym24", "sym24");
        check("kPhysical", "KPhysical", "k_physical");
        check(
            "Running_With_Errors",
            "RunningWithErrors",
            "running_with_errors",
        );
        check("application/json", "ApplicationJson", "application_json");
        check("async", "Async", "r#async");
        check("try", "Try", "r#try");
    }

    #[test]
    fn collisions_get_numbers() {
        let mut scope = Scope::new();
        assert_eq!(scope.claim(value_name("fooBar")).rust, "foo_bar");
        assert_eq!(scope.claim(value_name("foo_bar")).rust, "foo_bar2");
        assert_eq!(scope.claim(value_name("foo-bar")).rust, "foo_bar3");
        assert_eq!(scope.claim(value_name("type")).rust, "r#type");
        assert_eq!(scope.claim(value_name("Type")).rust, "type2");
        let mut types = Scope::new();
        assert_eq!(types.claim(type_name("job")).rust, "Job");
        assert_eq!(types.claim(type_name("Job")).rust, "Job2");
    }
}
