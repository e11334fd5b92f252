//! A trivial server implementation and a client driver, both generated: `Stub` answers every
//! operation with its first documented success (the spec's example body, or a minimal valid one),
//! and `call_every_operation` calls every operation once with example arguments. Together they prove,
//! over real HTTP, that the generated client and server agree on every operation; users get a mock
//! server for free.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use serde_json::{json, Map, Value};

use super::client::{chosen_content, is_argument, status_variant};
use super::tokens::{ident, ty_at};
use crate::ir::operations::{BodyKind, Operation, Parameter};
use crate::ir::types::TypeKind;
use crate::ir::{Api, Ty, TypeSpace};

pub fn emit(api: &Api) -> TokenStream {
    let types = quote!(super::types);
    let answers = api.operations.iter().map(|op| answer(api, op, &types));
    let calls = api.operations.iter().map(|op| call(api, op, &types));
    quote! {
        #![allow(clippy::too_many_lines, clippy::needless_update, unused_variables)]
        use super::{client, server};

        /// Answers every operation with its first documented success: the spec's example body, or a
        /// minimal valid one. A mock server: `server::router(Arc::new(Stub))`.
        #[derive(Debug, Clone, Copy, Default)]
        pub struct Stub;

        impl server::Api for Stub {
            #(#answers)*
        }

        /// Calls every operation once through `client`, with example arguments, and reports each
        /// operation's outcome by operationId.
        pub async fn call_every_operation(
            client: &client::Client,
        ) -> ::std::vec::Vec<(&'static str, ::std::result::Result<(), ::std::string::String>)> {
            let mut results = ::std::vec::Vec::new();
            #(#calls)*
            results
        }
    }
}

fn answer(api: &Api, op: &Operation, types: &TokenStream) -> TokenStream {
    let name = ident(&op.name.rust);
    let mut successes: Vec<_> = op.responses.iter().filter(|r| r.is_success()).collect();
    successes.sort_by(|a, b| a.status.cmp(&b.status));
    let Some(response) = successes.first() else {
        // No success documented: answer the first documented response there is.
        return quote! {
            async fn #name(&self, request: server::#name::Request) -> ::codegen_runtime::server::Reply<server::#name::Response> {
                unimplemented!("the spec documents no success answer")
            }
        };
    };
    let v = status_variant(&response.status);
    let range = response.status == "default" || response.status.ends_with("XX");
    let code = response.status.parse::<u16>().unwrap_or(200);
    let value = chosen_content(response).map(|c| match (c.kind, &c.ty) {
            (BodyKind::Json, Some(t)) => {
                let sample = c
                    .example
                    .clone()
                    .unwrap_or_else(|| sample(t, &api.types, 0));
                let text = sample.to_string();
                let t = ty_at(t, types);
                quote!(::serde_json::from_str::<#t>(#text).expect("the stub's body has its documented type"))
            }
            (BodyKind::Text, _) => quote!(::std::string::String::from("stub")),
            _ => quote!(::codegen_runtime::axum::body::Body::from("stub")),
        });
    let response = match (value, range) {
        (Some(v_), false) => quote!(server::#name::Response::#v(#v_)),
        (None, false) => quote!(server::#name::Response::#v),
        (Some(v_), true) => quote!(server::#name::Response::#v(#code, #v_)),
        (None, true) => quote!(server::#name::Response::#v(#code)),
    };
    quote! {
        async fn #name(&self, request: server::#name::Request) -> ::codegen_runtime::server::Reply<server::#name::Response> {
            #response.into()
        }
    }
}

/// A value for a parameter: its example, or one that satisfies its constraints.
fn parameter_value(api: &Api, p: &Parameter) -> Value {
    if let Some(e) = &p.example {
        return e.clone();
    }
    if let Some(first) = p.constraints.allowed.first() {
        return Value::String(first.clone());
    }
    if let Some(min) = p.constraints.minimum {
        return json!(min.max(1.0).round() as i64);
    }
    if let Some(s) = p.constraints.pattern.as_deref().and_then(string_matching) {
        return match &p.ty {
            Ty::Vec(_) => json!([s]),
            _ => json!(s),
        };
    }
    sample(&p.ty, &api.types, 0)
}

/// Tokens for a value of type `t` built from JSON `value`, borrowed when `borrow`.
fn value_tokens(t: &Ty, value: &Value, types: &TokenStream, borrow: bool) -> TokenStream {
    let amp = borrow.then(|| quote!(&));
    match (t, value) {
        (Ty::String, _) => {
            let s = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            if borrow {
                quote!(#s)
            } else {
                quote!(::std::string::String::from(#s))
            }
        }
        (Ty::Secret, _) => {
            let s = value.as_str().unwrap_or("secret").to_string();
            quote!(#amp ::codegen_runtime::Secret::new(#s))
        }
        (Ty::Bool, _) => {
            let b = value.as_bool().unwrap_or(true);
            quote!(#b)
        }
        (Ty::I32 | Ty::I64, _) => {
            let n = value
                .as_i64()
                .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
                .unwrap_or(1);
            let lit = Literal::i64_unsuffixed(n);
            quote!(#lit)
        }
        (Ty::F32 | Ty::F64, _) => {
            let n = value.as_f64().unwrap_or(1.0);
            let lit = Literal::f64_unsuffixed(n);
            quote!(#lit)
        }
        _ => {
            let text = value.to_string();
            let rust = ty_at(t, types);
            quote!(#amp ::serde_json::from_str::<#rust>(#text).expect("the example argument has its documented type"))
        }
    }
}

fn call(api: &Api, op: &Operation, types: &TokenStream) -> TokenStream {
    let name = ident(&op.name.rust);
    let api_name = &op.name.api;
    let mut args: Vec<TokenStream> = op
        .parameters
        .iter()
        .filter(|p| is_argument(p))
        .map(|p| {
            let value = parameter_value(api, p);
            // Sequences are passed as slices: borrow a Vec.
            value_tokens(
                &p.ty,
                &value,
                types,
                !matches!(p.ty, Ty::Bool | Ty::I32 | Ty::I64 | Ty::F32 | Ty::F64),
            )
        })
        .collect();
    if let Some(b) = &op.body {
        let c = &b.contents[0];
        let module = ident(&op.name.rust);
        let several = b.contents.len() > 1;
        let variant = format_ident!("{}", c.variant);
        let owned = match (c.kind, &c.ty) {
            (BodyKind::Json | BodyKind::Form, Some(t)) => {
                let sample = c
                    .example
                    .clone()
                    .unwrap_or_else(|| sample(t, &api.types, 0));
                value_tokens(t, &sample, types, false)
            }
            (BodyKind::Json | BodyKind::Form, None) => quote!(::serde_json::json!({})),
            (BodyKind::Multipart, _) => {
                quote!(::codegen_runtime::MultipartForm::new().text("stub", "stub"))
            }
            (BodyKind::Text, _) => quote!(::std::string::String::from("stub")),
            (BodyKind::Binary, _) => quote!(::codegen_runtime::reqwest::Body::from("stub")),
        };
        let by_ref = matches!(c.kind, BodyKind::Json | BodyKind::Form) && !several;
        let arg = if several {
            quote!(client::#module::Body::#variant(#owned))
        } else if by_ref {
            quote!(&#owned)
        } else {
            owned
        };
        args.push(if b.required {
            arg
        } else {
            quote!(::std::option::Option::Some(#arg))
        });
    }
    if op.parameters.iter().any(|p| !is_argument(p)) {
        let module = ident(&op.name.rust);
        let fields = op
            .parameters
            .iter()
            .filter(|p| !is_argument(p) && p.required)
            .map(|p| {
                let field = ident(&p.name.rust);
                let value = value_tokens(&p.ty, &parameter_value(api, p), types, false);
                quote!(#field: ::std::option::Option::Some(#value),)
            });
        args.push(
            quote!(&client::#module::Options { #(#fields)* ..::std::default::Default::default() }),
        );
    }
    quote! {
        results.push((#api_name, client.#name(#(#args),*).await.map(|_| ()).map_err(|e| format!("{e:?}"))));
    }
}

/// A minimal JSON value of type `t`: required members only, first enum values, one array item.
pub fn sample(t: &Ty, space: &TypeSpace, depth: usize) -> Value {
    match t {
        Ty::String => json!("string"),
        Ty::Secret => json!("secret"),
        Ty::Bool => json!(true),
        Ty::I32 | Ty::I64 => json!(1),
        Ty::F32 | Ty::F64 => json!(1.5),
        Ty::Json | Ty::JsonObject => json!({}),
        Ty::Vec(inner) if depth < 6 => json!([sample(inner, space, depth + 1)]),
        Ty::Vec(_) => json!([]),
        Ty::Map(_) => json!({}),
        Ty::Boxed(inner) => sample(inner, space, depth + 1),
        Ty::Named(n) => {
            let Some(def) = space.types.get(n) else {
                return json!({});
            };
            match &def.kind {
                TypeKind::Struct(s) => {
                    let mut object = Map::new();
                    for f in s.fields.iter().filter(|f| f.required) {
                        let v = if f.nullable || depth > 8 {
                            Value::Null
                        } else {
                            sample(&f.ty, space, depth + 1)
                        };
                        object.insert(f.name.api.clone(), v);
                    }
                    Value::Object(object)
                }
                TypeKind::StringEnum { variants } => {
                    json!(variants.first().map(|v| v.api.clone()).unwrap_or_default())
                }
                TypeKind::Union { variants, tag } => {
                    let Some(first) = variants.first() else {
                        return json!({});
                    };
                    let mut v = sample(&first.ty, space, depth + 1);
                    if let (Some(tag), Some(value), Value::Object(map)) =
                        (tag, first.tags.first(), &mut v)
                    {
                        map.insert(tag.clone(), json!(value));
                    }
                    v
                }
                TypeKind::Alias(inner) => sample(inner, space, depth + 1),
            }
        }
    }
}

/// A string matching `pattern`, for the common subset of regular expressions specs use (anchors,
/// `\d`, `\w`, classes, groups, alternation, quantifiers); `None` when the result does not match.
pub fn string_matching(pattern: &str) -> Option<String> {
    fn one(chars: &[char], i: &mut usize, out: &mut String) {
        // Reads one atom at `i` and appends a character (or group) matching it.
        let mut atom = String::new();
        match chars[*i] {
            '\\' if *i + 1 < chars.len() => {
                *i += 1;
                atom.push(match chars[*i] {
                    'd' => '1',
                    'w' => 'a',
                    's' => ' ',
                    other => other,
                });
                *i += 1;
            }
            '[' => {
                *i += 1;
                let negated = chars.get(*i) == Some(&'^');
                if negated {
                    *i += 1;
                }
                let first = chars.get(*i).copied().unwrap_or('a');
                let first = if first == '\\' {
                    *i += 1;
                    match chars.get(*i) {
                        Some('d') => '1',
                        Some('w') => 'a',
                        Some(c) => *c,
                        None => 'a',
                    }
                } else {
                    first
                };
                while *i < chars.len() && chars[*i] != ']' {
                    *i += 1;
                }
                *i += 1;
                atom.push(if negated {
                    if first == 'a' {
                        'b'
                    } else {
                        'a'
                    }
                } else {
                    first
                });
            }
            '(' => {
                let start = *i + 1;
                let mut depth = 0;
                while *i < chars.len() {
                    match chars[*i] {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    *i += 1;
                }
                let inner: String = chars[start..(*i).min(chars.len())].iter().collect();
                let inner = inner.strip_prefix("?:").unwrap_or(&inner).to_string();
                let first_branch = inner.split('|').next().unwrap_or("").to_string();
                atom.push_str(&sequence(&first_branch.chars().collect::<Vec<_>>()));
                *i += 1;
            }
            '.' => {
                atom.push('a');
                *i += 1;
            }
            c => {
                atom.push(c);
                *i += 1;
            }
        }
        // Quantifier.
        match chars.get(*i) {
            Some('*') | Some('?') => {
                *i += 1;
                atom.clear();
            }
            Some('+') => *i += 1,
            Some('{') => {
                let close = chars[*i..].iter().position(|c| *c == '}').map(|p| *i + p);
                if let Some(close) = close {
                    let spec: String = chars[*i + 1..close].iter().collect();
                    let n: usize = spec
                        .split(',')
                        .next()
                        .and_then(|n| n.trim().parse().ok())
                        .unwrap_or(1);
                    atom = atom.repeat(n);
                    *i = close + 1;
                }
            }
            _ => {}
        }
        out.push_str(&atom);
    }
    fn sequence(chars: &[char]) -> String {
        let mut out = String::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '^' | '$' => i += 1,
                '|' => break,
                _ => one(chars, &mut i, &mut out),
            }
        }
        out
    }
    let candidate = sequence(&pattern.chars().collect::<Vec<_>>());
    let re = regex::Regex::new(pattern).ok()?;
    re.is_match(&candidate).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::string_matching;

    #[test]
    fn strings_match_common_patterns() {
        for pattern in [
            r"^\d+:\d+:\d+$",
            r"^\d+:\d+$",
            r"^[a-z][a-z0-9-]{2,}$",
            r"^(kPhysical|kSQL)$",
            r"^[0-9a-f]{32}$",
            r"^[+-][A-Za-z0-9_]+$",
            r"^\w+(\.\w+)*@example\.com$",
        ] {
            let s = string_matching(pattern).unwrap_or_else(|| panic!("no string for {pattern}"));
            assert!(
                regex::Regex::new(pattern).unwrap().is_match(&s),
                "{s} vs {pattern}"
            );
        }
    }
}
