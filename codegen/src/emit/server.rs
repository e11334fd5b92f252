//! Server stubs: a trait with one async method per operation, and an axum router that extracts and
//! validates requests against the spec before the implementation sees them. Invalid requests get
//! the vendor's own validation answer (`x-validation-error`), never a framework default page.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::client::{status_variant, style_tokens};
use super::tokens::{doc, ident, ty_at};
use crate::ir::operations::{
    BodyKind, Constraints, Content, Location, Operation, Parameter, Response,
};
use crate::ir::{Api, Ty};

pub fn emit(api: &Api) -> TokenStream {
    let types = quote!(super::types);
    let modules = api.operations.iter().map(operation_module);
    let methods = api.operations.iter().map(|op| {
        let name = ident(&op.name.rust);
        let d = doc(op.doc.as_deref());
        let summary = format!(" `{} {}` ({})", op.method.to_uppercase(), op.path, op.name.api);
        quote! {
            #d
            ///
            #[doc = #summary]
            fn #name(&self, request: #name::Request) -> impl ::std::future::Future<Output = ::codegen_runtime::server::Reply<#name::Response>> + ::std::marker::Send;
        }
    });
    let handlers = api.operations.iter().map(|op| handler(op, &types));
    // One route per path, with every method of that path.
    let mut seen = Vec::new();
    let routes = api.operations.iter().filter_map(|op| {
        if seen.contains(&op.path.as_str()) {
            return None;
        }
        seen.push(op.path.as_str());
        let mut chain = TokenStream::new();
        for (i, o) in api
            .operations
            .iter()
            .filter(|o| o.path == op.path)
            .enumerate()
        {
            let method = format_ident!("{}", o.method);
            let h = format_ident!("handle_{}", o.name.rust.trim_start_matches("r#"));
            chain = if i == 0 {
                quote!(::codegen_runtime::axum::routing::#method(#h::<A>))
            } else {
                quote!(#chain.#method(#h::<A>))
            };
        }
        let path = &op.path;
        Some(quote!(.route(#path, #chain)))
    });
    let title = format!(" The {} API ({}), to implement.", api.title, api.version);
    let checked = api
        .operations
        .iter()
        .filter_map(|op| op.body.as_ref())
        .flat_map(|b| &b.contents)
        .any(|c| matches!(c.kind, BodyKind::Json | BodyKind::Form) && c.schema_name.is_some());
    let schemas = checked.then(|| {
        let text = api.body_schemas.to_string();
        quote! {
            /// The spec's request body schemas, to check bodies exactly as the spec says.
            static BODY_SCHEMAS: ::codegen_runtime::validation::BodySchemas =
                ::codegen_runtime::validation::BodySchemas::new(#text);
        }
    });
    quote! {
        #![allow(
            clippy::too_many_arguments,
            clippy::redundant_guards,
            clippy::large_enum_variant,
            clippy::doc_lazy_continuation,
            clippy::doc_overindented_list_items,
            clippy::too_long_first_doc_paragraph,
            clippy::empty_docs,
            clippy::tabs_in_doc_comments,
            unused_mut
        )]
        use ::codegen_runtime::validation::{Problem, RequestPart, ValidationRule};
        use ::codegen_runtime::server::{Incoming, Shape};

        #schemas

        #[doc = #title]
        ///
        /// Each method receives a request that the router already checked against the spec, and
        /// answers one of the documented responses (plus any headers, through `Reply`).
        pub trait Api: ::std::marker::Send + ::std::marker::Sync + 'static {
            #(#methods)*
        }

        /// An axum router serving `api` at the paths of the spec (nest it under the server's base
        /// path, such as `/zstack`, when there is one).
        pub fn router<A: Api>(api: ::std::sync::Arc<A>) -> ::codegen_runtime::axum::Router {
            ::codegen_runtime::axum::Router::new()
                #(#routes)*
                .with_state(api)
        }

        #(#handlers)*

        #(#modules)*
    }
}

/// The server-side payload type of a response: JSON bodies typed, text as `String`, anything else
/// streamed as an axum body.
fn payload(response: &Response, types: &TokenStream) -> Option<TokenStream> {
    let content = super::client::chosen_content(response)?;
    Some(match (content.kind, &content.ty) {
        (BodyKind::Json, Some(t)) => ty_at(t, types),
        (BodyKind::Text, _) => quote!(::std::string::String),
        _ => quote!(::codegen_runtime::axum::body::Body),
    })
}

fn is_range(status: &str) -> bool {
    status == "default" || status.ends_with("XX")
}

fn operation_module(op: &Operation) -> TokenStream {
    let module = ident(&op.name.rust);
    let types = quote!(super::super::types);
    let fields = op.parameters.iter().map(|p| {
        let name = ident(&p.name.rust);
        let t = ty_at(&p.ty, &types);
        let d = doc(p.doc.as_deref());
        if p.required {
            quote!(#d pub #name: #t,)
        } else {
            quote!(#d pub #name: ::std::option::Option<#t>,)
        }
    });
    let body_field = op.body.as_ref().map(|b| {
        let t = if b.contents.len() > 1 {
            quote!(Body)
        } else {
            body_type(&b.contents[0], &types)
        };
        if b.required {
            quote!(/// The request body.
                pub body: #t,)
        } else {
            quote!(/// The request body, when one was sent.
                pub body: ::std::option::Option<#t>,)
        }
    });
    let body_enum = op.body.as_ref().filter(|b| b.contents.len() > 1).map(|b| {
        let cases = b.contents.iter().map(|c| {
            let v = format_ident!("{}", c.variant);
            let t = body_type(c, &types);
            let d = format!(" `{}`", c.media_type);
            quote!(#[doc = #d] #v(#t),)
        });
        quote! {
            /// The request body, by media type.
            #[derive(Debug)]
            pub enum Body { #(#cases)* }
        }
    });
    let variants = op.responses.iter().map(|r| {
        let v = status_variant(&r.status);
        let d = doc(Some(&format!(
            "{}: {}",
            r.status,
            r.doc.as_deref().unwrap_or("")
        )));
        match (payload(r, &types), is_range(&r.status)) {
            (Some(p), false) => quote!(#d #v(#p),),
            (None, false) => quote!(#d #v,),
            (Some(p), true) => quote!(#d #v(u16, #p),),
            (None, true) => quote!(#d #v(u16),),
        }
    });
    let doc_text = format!(
        " Request and responses of [`Api::{}`](super::Api::{}).",
        op.name.rust.trim_start_matches("r#"),
        op.name.rust.trim_start_matches("r#")
    );
    quote! {
        #[doc = #doc_text]
        pub mod #module {
            /// The request, extracted and checked against the spec.
            #[derive(Debug)]
            pub struct Request {
                #(#fields)*
                #body_field
                /// Every header as sent, for what the spec leaves to the implementation:
                /// credentials (`Authorization`, session cookies, CSRF tokens) and correlation ids.
                pub headers: ::codegen_runtime::axum::http::HeaderMap,
            }
            #body_enum
            /// Every documented answer.
            #[derive(Debug)]
            pub enum Response {
                #(#variants)*
            }
        }
    }
}

fn body_type(c: &Content, types: &TokenStream) -> TokenStream {
    match (c.kind, &c.ty) {
        (BodyKind::Json | BodyKind::Form, Some(t)) => ty_at(t, types),
        (BodyKind::Json | BodyKind::Form, None) => quote!(::serde_json::Value),
        (BodyKind::Text, _) => quote!(::std::string::String),
        // Streamed to the implementation as it arrives.
        (BodyKind::Multipart | BodyKind::Binary, _) => quote!(::codegen_runtime::server::RawBody),
    }
}

fn part(l: Location) -> TokenStream {
    match l {
        Location::Path => quote!(RequestPart::Path),
        Location::Query => quote!(RequestPart::Query),
        Location::Header => quote!(RequestPart::Header),
        Location::Cookie => quote!(RequestPart::Cookie),
    }
}

/// Statements reading one parameter into a local of its name, then checking its constraints.
fn read_parameter(p: &Parameter, types: &TokenStream) -> TokenStream {
    let name = ident(&p.name.rust);
    let api = &p.name.api;
    let t = ty_at(&p.ty, types);
    let part = part(p.location);
    let style = style_tokens(p.style);
    let explode = p.explode;
    let shape = match &p.ty {
        Ty::Vec(_) => quote!(Shape::List),
        Ty::Map(_) | Ty::JsonObject => quote!(Shape::Object),
        _ => quote!(Shape::Scalar),
    };
    let read = quote!(incoming.param::<#t>(#part, #api, #style, #explode, #shape)?);
    let read = if p.required {
        quote!(let #name = ::codegen_runtime::validation::require(#part, #api, #read)?;)
    } else {
        quote!(let #name = #read;)
    };
    let mut checks = value_checks(&p.ty, &p.constraints, &part, api);
    // An array's items are checked one by one, as `value`.
    if let (Ty::Vec(inner), Some(items)) = (&p.ty, &p.constraints.items) {
        let item_checks = value_checks(inner, items, &part, api);
        if !item_checks.is_empty() {
            checks.push(quote!(for value in value.iter() { #(#item_checks)* }));
        }
    }
    if checks.is_empty() {
        return read;
    }
    let apply = if p.required {
        quote!({ let value = &#name; #(#checks)* })
    } else {
        quote!(if let ::std::option::Option::Some(value) = &#name { #(#checks)* })
    };
    quote!(#read #apply)
}

/// Statements checking `value` (a `&T` of type `ty`) against `c`.
fn value_checks(ty: &Ty, c: &Constraints, part: &TokenStream, api: &str) -> Vec<TokenStream> {
    let mut checks = Vec::new();
    let text = match ty {
        Ty::String => Some(quote!(value.as_str())),
        Ty::Secret => Some(quote!(value.expose())),
        Ty::Named(_) if !c.allowed.is_empty() => Some(quote!(value.as_str())),
        _ => None,
    };
    if let Some(text) = &text {
        if !c.allowed.is_empty() {
            let allowed = &c.allowed;
            checks.push(quote!(::codegen_runtime::validation::check_enum(#part, #api, #text, &[#(#allowed),*])?;));
        }
        if let Some(pattern) = &c.pattern {
            checks.push(quote!(::codegen_runtime::validation::check_pattern(#part, #api, #text, #pattern)?;));
        }
        if c.min_length.is_some() || c.max_length.is_some() {
            let min = opt_usize(c.min_length);
            let max = opt_usize(c.max_length);
            checks.push(
                quote!(::codegen_runtime::validation::check_len(#part, #api, #text, #min, #max)?;),
            );
        }
    }
    if matches!(ty, Ty::I32 | Ty::I64 | Ty::F32 | Ty::F64)
        && (c.minimum.is_some() || c.maximum.is_some())
    {
        let bound = |b: Option<f64>| match b {
            Some(v) => quote!(::std::ops::Bound::Included(#v)),
            None => quote!(::std::ops::Bound::Unbounded),
        };
        let (min, max) = (bound(c.minimum), bound(c.maximum));
        checks.push(quote!(::codegen_runtime::validation::check_range(#part, #api, *value as f64, #min, #max)?;));
    }
    checks
}

fn opt_usize(v: Option<usize>) -> TokenStream {
    match v {
        Some(n) => quote!(::std::option::Option::Some(#n)),
        None => quote!(::std::option::Option::None),
    }
}

/// Statements reading the body into `body`.
fn read_body(op: &Operation, types: &TokenStream) -> TokenStream {
    let Some(b) = &op.body else { return quote!() };
    let module = ident(&op.name.rust);
    let read_one = |c: &Content| -> TokenStream {
        match c.kind {
            BodyKind::Json => {
                let t = body_type(c, types);
                match &c.schema_name {
                    Some(name) => {
                        quote!(incoming.checked_json_body::<#t>(&BODY_SCHEMAS, #name).await?)
                    }
                    None => quote!(incoming.json_body::<#t>().await?),
                }
            }
            BodyKind::Form => {
                let t = body_type(c, types);
                match &c.schema_name {
                    Some(name) => {
                        quote!(incoming.checked_form_body::<#t>(&BODY_SCHEMAS, #name).await?)
                    }
                    None => quote!(incoming.form_body::<#t>().await?),
                }
            }
            BodyKind::Text => quote!(incoming.text_body().await?),
            BodyKind::Multipart | BodyKind::Binary => {
                quote!(::std::option::Option::Some(incoming.raw_body()))
            }
        }
    };
    let expected: Vec<&str> = b.contents.iter().map(|c| c.media_type.as_str()).collect();
    let expected_text = expected.join(", ");
    let matches = |c: &Content| -> TokenStream {
        let media = c
            .media_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match c.kind {
            BodyKind::Json => {
                quote!(::std::option::Option::Some(ct) if ct == #media || ct.ends_with("+json"))
            }
            BodyKind::Multipart => {
                quote!(::std::option::Option::Some(ct) if ct.starts_with("multipart/"))
            }
            _ if media.ends_with("/*") || media == "*/*" => quote!(::std::option::Option::Some(_)),
            _ => quote!(::std::option::Option::Some(ct) if ct == #media),
        }
    };
    let missing = if b.required {
        quote!(.ok_or_else(|| Problem::new(RequestPart::Body, "the request body is required"))?)
    } else {
        quote!()
    };
    if b.contents.len() == 1 {
        let c = &b.contents[0];
        let read = read_one(c);
        let m = matches(c);
        // A JSON body may come without a Content-Type; anything else must say what it is.
        let absent = if c.kind == BodyKind::Json {
            quote!(::std::option::Option::None => #read,)
        } else {
            quote!(::std::option::Option::None => ::std::option::Option::None,)
        };
        quote! {
            let content_type = incoming.content_type();
            let body = match content_type.as_deref() {
                #m => #read,
                #absent
                ::std::option::Option::Some(other) => {
                    return ::std::result::Result::Err(Problem::new(
                        RequestPart::Body,
                        format!("unsupported content type `{other}`; expected {}", #expected_text),
                    ))
                }
            } #missing;
        }
    } else {
        let arms = b.contents.iter().map(|c| {
            let v = format_ident!("{}", c.variant);
            let read = read_one(c);
            let m = matches(c);
            match c.kind {
                BodyKind::Multipart | BodyKind::Binary => {
                    quote!(#m => ::std::option::Option::Some(#module::Body::#v(incoming.raw_body())),)
                }
                _ => quote!(#m => (#read).map(#module::Body::#v),),
            }
        });
        quote! {
            let content_type = incoming.content_type();
            let body = match content_type.as_deref() {
                #(#arms)*
                ::std::option::Option::None => ::std::option::Option::None,
                ::std::option::Option::Some(other) => {
                    return ::std::result::Result::Err(Problem::new(
                        RequestPart::Body,
                        format!("unsupported content type `{other}`; expected one of {}", #expected_text),
                    ))
                }
            } #missing;
        }
    }
}

fn rule(r: &crate::extensions::ValidationErrorRule) -> TokenStream {
    use crate::extensions::RequestPart as P;
    let when = r.when.iter().map(|p| match p {
        P::Path => quote!(RequestPart::Path),
        P::Query => quote!(RequestPart::Query),
        P::Header => quote!(RequestPart::Header),
        P::Cookie => quote!(RequestPart::Cookie),
        P::Body => quote!(RequestPart::Body),
    });
    let status: u16 = r.status.parse().unwrap_or(400);
    let content_type = &r.content_type;
    let template = match &r.template {
        serde_json::Value::String(s) if BodyKind::of(content_type) != BodyKind::Json => s.clone(),
        other => other.to_string(),
    };
    quote!(ValidationRule { when: &[#(#when),*], status: #status, content_type: #content_type, template: #template })
}

fn handler(op: &Operation, types: &TokenStream) -> TokenStream {
    let name = ident(&op.name.rust);
    let module = ident(&op.name.rust);
    let h = format_ident!("handle_{}", op.name.rust.trim_start_matches("r#"));
    let parse = format_ident!("parse_{}", op.name.rust.trim_start_matches("r#"));
    let template = &op.path;
    let rules = op.validation.iter().map(rule);
    let reads = op.parameters.iter().map(|p| read_parameter(p, types));
    let body = read_body(op, types);
    let field_names: Vec<_> = op.parameters.iter().map(|p| ident(&p.name.rust)).collect();
    let body_name = op.body.as_ref().map(|_| quote!(body,));
    let arms = op.responses.iter().map(|r| {
        let v = status_variant(&r.status);
        let code: u16 = r.status.parse().unwrap_or(500);
        let content = super::client::chosen_content(r);
        let media = content.map(|c| c.media_type.clone()).unwrap_or_default();
        let respond = |code: TokenStream, value: TokenStream| match content
            .map(|c| (c.kind, c.ty.is_some()))
        {
            None => quote!(::codegen_runtime::server::empty(#code, reply.headers)),
            Some((BodyKind::Json, true)) => {
                quote!(::codegen_runtime::server::json(#code, #media, &#value, reply.headers))
            }
            Some((BodyKind::Text, _)) => {
                quote!(::codegen_runtime::server::text(#code, #media, #value, reply.headers))
            }
            Some(_) => {
                quote!(::codegen_runtime::server::body(#code, #media, #value, reply.headers))
            }
        };
        match (content.is_some(), is_range(&r.status)) {
            (true, false) => {
                let out = respond(quote!(#code), quote!(value));
                quote!(#module::Response::#v(value) => #out,)
            }
            (false, false) => {
                let out = respond(quote!(#code), quote!());
                quote!(#module::Response::#v => #out,)
            }
            (true, true) => {
                let out = respond(quote!(status), quote!(value));
                quote!(#module::Response::#v(status, value) => #out,)
            }
            (false, true) => {
                let out = respond(quote!(status), quote!());
                quote!(#module::Response::#v(status) => #out,)
            }
        }
    });
    quote! {
        async fn #h<A: Api>(
            ::codegen_runtime::axum::extract::State(api): ::codegen_runtime::axum::extract::State<::std::sync::Arc<A>>,
            request: ::codegen_runtime::axum::extract::Request,
        ) -> ::codegen_runtime::axum::response::Response {
            const RULES: &[ValidationRule] = &[#(#rules),*];
            let mut incoming = Incoming::new(request, #template);
            let request = match #parse(&mut incoming).await {
                ::std::result::Result::Ok(request) => request,
                ::std::result::Result::Err(problem) => return ::codegen_runtime::validation::render(RULES, &problem),
            };
            let reply = api.#name(request).await;
            match reply.response {
                #(#arms)*
            }
        }

        async fn #parse(incoming: &mut Incoming) -> ::std::result::Result<#module::Request, Problem> {
            #(#reads)*
            #body
            let headers = ::std::mem::take(&mut incoming.headers);
            ::std::result::Result::Ok(#module::Request { #(#field_names,)* #body_name headers })
        }
    }
}
