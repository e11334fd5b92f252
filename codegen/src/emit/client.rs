//! The async client: one method per operation, typed per documented status, plus a waiter for every
//! operation with `x-job`.
//!
//! Per operation `op`, module `client::op` holds `Success` (documented 2xx answers), `Failure`
//! (documented error answers, each with the vendor's typed error body), `Options` (optional and
//! header parameters) and, when the request body has several media types, `Body`. The method
//! returns `Result<op::Success, codegen_runtime::Error<op::Failure>>`; undocumented statuses are
//! `Error::UnexpectedStatus`, bodies that do not decode are `Error::Decode` with the raw bytes.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::tokens::{doc, ident, ty_at};
use crate::extensions::{HandleFormat, HandleLocation, StateLocation};
use crate::ir::operations::{BodyKind, Content, Location, Operation, Parameter, Response, Style};
use crate::ir::{Api, Ty};

pub fn emit(api: &Api) -> TokenStream {
    let types_from_client = quote!(super::types);
    let modules = api.operations.iter().map(operation_module);
    let methods = api
        .operations
        .iter()
        .map(|op| method(op, &types_from_client));
    let waiters = api.operations.iter().filter_map(|op| waiter(api, op));
    let title = format!(" A client for the {} API ({}).", api.title, api.version);
    quote! {
        #![allow(
            clippy::too_many_arguments,
            clippy::large_enum_variant,
            clippy::result_large_err,
            clippy::needless_update,
            clippy::doc_lazy_continuation,
            clippy::doc_overindented_list_items,
            clippy::too_long_first_doc_paragraph,
            clippy::empty_docs,
            clippy::tabs_in_doc_comments,
            unused_mut
        )]
        use ::codegen_runtime::encoding::ToParam as _;

        #[doc = #title]
        ///
        /// Build it from a [`codegen_runtime::ClientBuilder`], which carries the base URL, the
        /// credentials, default headers, TLS settings, timeouts and the retry policy.
        #[derive(Debug, Clone)]
        pub struct Client {
            raw: ::codegen_runtime::RawClient,
        }

        impl Client {
            /// A client over an already built transport.
            pub fn new(raw: ::codegen_runtime::RawClient) -> Self {
                Client { raw }
            }

            /// Builds the transport and the client.
            pub fn from_builder(
                builder: ::codegen_runtime::ClientBuilder,
            ) -> ::std::result::Result<Self, ::codegen_runtime::Error<()>> {
                ::std::result::Result::Ok(Client { raw: builder.build()? })
            }

            /// The transport, for requests this spec does not describe.
            pub fn raw(&self) -> &::codegen_runtime::RawClient {
                &self.raw
            }

            /// Ends a login session, when the credentials opened one.
            pub async fn logout(&self) {
                self.raw.logout().await
            }

            #(#methods)*
            #(#waiters)*
        }

        #(#modules)*
    }
}

/// A variant name for a status: the reason phrase where there is a common one.
pub fn status_variant(status: &str) -> proc_macro2::Ident {
    let name = match status {
        "200" => "Ok",
        "201" => "Created",
        "202" => "Accepted",
        "203" => "NonAuthoritative",
        "204" => "NoContent",
        "206" => "PartialContent",
        "207" => "MultiStatus",
        "301" => "MovedPermanently",
        "302" => "Found",
        "304" => "NotModified",
        "400" => "BadRequest",
        "401" => "Unauthorized",
        "403" => "Forbidden",
        "404" => "NotFound",
        "405" => "MethodNotAllowed",
        "406" => "NotAcceptable",
        "409" => "Conflict",
        "410" => "Gone",
        "412" => "PreconditionFailed",
        "413" => "PayloadTooLarge",
        "415" => "UnsupportedMediaType",
        "422" => "UnprocessableEntity",
        "429" => "TooManyRequests",
        "500" => "InternalServerError",
        "501" => "NotImplemented",
        "502" => "BadGateway",
        "503" => "ServiceUnavailable",
        "504" => "GatewayTimeout",
        "default" => "Default",
        other => return format_ident!("Status{}", other),
    };
    format_ident!("{}", name)
}

/// The content of a response the client decodes: JSON first, then text, then raw bytes.
pub fn chosen_content(response: &Response) -> Option<&Content> {
    let by = |kind: BodyKind| response.contents.iter().find(|c| c.kind == kind);
    by(BodyKind::Json)
        .filter(|c| c.ty.is_some())
        .or_else(|| by(BodyKind::Text))
        .or_else(|| response.contents.first())
}

/// The payload type of a response variant, or `None` for a response without a body.
fn payload(response: &Response, types: &TokenStream) -> Option<TokenStream> {
    let content = chosen_content(response)?;
    Some(match (content.kind, &content.ty) {
        (BodyKind::Json, Some(t)) => ty_at(t, types),
        (BodyKind::Text, _) => quote!(::std::string::String),
        _ => quote!(::codegen_runtime::ApiResponse),
    })
}

fn operation_module(op: &Operation) -> TokenStream {
    let module = ident(&op.name.rust);
    let types = quote!(super::super::types);
    let variants = |success: bool| {
        op.responses
            .iter()
            .filter(|r| r.is_success() == success)
            .map(|r| {
                let v = status_variant(&r.status);
                let d = doc(Some(&format!(
                    "{}: {}",
                    r.status,
                    r.doc.as_deref().unwrap_or("")
                )));
                match payload(r, &types) {
                    Some(p) => quote!(#d #v(#p),),
                    None => quote!(#d #v,),
                }
            })
            .collect::<Vec<_>>()
    };
    let (success, failure) = (variants(true), variants(false));
    let options = options_fields(op, &types);
    let options = (!options.is_empty()).then(|| {
        quote! {
            /// Optional parameters, and headers (which the client's default headers may supply).
            #[derive(Debug, Clone, Default)]
            pub struct Options {
                #(#options)*
            }
        }
    });
    let body = op.body.as_ref().filter(|b| b.contents.len() > 1).map(|b| {
        let cases = b.contents.iter().map(|c| {
            let v = format_ident!("{}", c.variant);
            let d = doc(Some(&format!("`{}`", c.media_type)));
            let t = body_type(c, &types);
            quote!(#d #v(#t),)
        });
        quote! {
            /// The request body, in one of its media types.
            #[derive(Debug)]
            pub enum Body {
                #(#cases)*
            }
        }
    });
    let doc_text = format!(
        " Types of [`Client::{}`](super::Client::{}).",
        op.name.rust, op.name.rust
    );
    quote! {
        #[doc = #doc_text]
        pub mod #module {
            /// The documented success answers.
            #[derive(Debug)]
            pub enum Success {
                #(#success)*
            }
            /// The documented error answers, with the vendor's error body.
            #[derive(Debug)]
            pub enum Failure {
                #(#failure)*
            }
            #options
            #body
        }
    }
}

/// The Rust type a caller passes for one request media type.
fn body_type(c: &Content, types: &TokenStream) -> TokenStream {
    match (c.kind, &c.ty) {
        (BodyKind::Json | BodyKind::Form, Some(t)) => ty_at(t, types),
        (BodyKind::Json | BodyKind::Form, None) => quote!(::serde_json::Value),
        // Parts are built by the caller, so files stream from disk (see `MultipartForm::file`).
        (BodyKind::Multipart, _) => quote!(::codegen_runtime::MultipartForm),
        (BodyKind::Text, _) => quote!(::std::string::String),
        (BodyKind::Binary, _) => quote!(::codegen_runtime::reqwest::Body),
    }
}

/// Parameters passed as method arguments: path parameters and required query/cookie ones.
pub(super) fn is_argument(p: &Parameter) -> bool {
    p.location == Location::Path
        || (p.required && matches!(p.location, Location::Query | Location::Cookie))
}

fn options_fields(op: &Operation, types: &TokenStream) -> Vec<TokenStream> {
    op.parameters
        .iter()
        .filter(|p| !is_argument(p))
        .map(|p| {
            let name = ident(&p.name.rust);
            let t = ty_at(&p.ty, types);
            let d = doc(p.doc.as_deref());
            let where_ = format!(
                " `{}` ({}{}).",
                p.name.api,
                location_word(p.location),
                if p.required { ", required" } else { "" }
            );
            quote!(#d #[doc = #where_] pub #name: ::std::option::Option<#t>,)
        })
        .collect()
}

fn location_word(l: Location) -> &'static str {
    match l {
        Location::Path => "path",
        Location::Query => "query",
        Location::Header => "header",
        Location::Cookie => "cookie",
    }
}

/// The argument type of a parameter: borrowed where that reads naturally.
fn argument_type(t: &Ty, types: &TokenStream) -> TokenStream {
    match t {
        Ty::String => quote!(&str),
        Ty::Vec(inner) => {
            let inner = ty_at(inner, types);
            quote!(&[#inner])
        }
        Ty::Bool | Ty::I32 | Ty::I64 | Ty::F32 | Ty::F64 => ty_at(t, types),
        other => {
            let t = ty_at(other, types);
            quote!(&#t)
        }
    }
}

/// An expression giving the `ParamValue` of a parameter value `v` (a reference or a copy type).
fn param_value(t: &Ty, v: TokenStream) -> TokenStream {
    let primitive = |t: &Ty| {
        matches!(
            t,
            Ty::String | Ty::Secret | Ty::Bool | Ty::I32 | Ty::I64 | Ty::F32 | Ty::F64
        )
    };
    match t {
        _ if primitive(t) => quote!((#v).to_param()),
        Ty::Vec(inner) if primitive(inner) => quote!((#v).to_param()),
        // Enums, objects and anything else: through their JSON form, which is what the API names.
        _ => quote!(::serde_json::to_value(#v)
            .map_err(|e| ::codegen_runtime::Error::InvalidRequest(e.to_string()))?
            .to_param()),
    }
}

pub(super) fn style_tokens(s: Style) -> TokenStream {
    match s {
        Style::Form => quote!(::codegen_runtime::Style::Form),
        Style::Simple => quote!(::codegen_runtime::Style::Simple),
        Style::Label => quote!(::codegen_runtime::Style::Label),
        Style::Matrix => quote!(::codegen_runtime::Style::Matrix),
        Style::SpaceDelimited => quote!(::codegen_runtime::Style::SpaceDelimited),
        Style::PipeDelimited => quote!(::codegen_runtime::Style::PipeDelimited),
        Style::DeepObject => quote!(::codegen_runtime::Style::DeepObject),
    }
}

/// Statements that build `request` (an `ApiRequest`) from the method's arguments and options.
fn build_request(op: &Operation, types: &TokenStream) -> TokenStream {
    // The path, segment by segment.
    let mut format = String::new();
    let mut args = Vec::new();
    let mut rest = op.path.as_str();
    while let Some(start) = rest.find('{') {
        format.push_str(&rest[..start].replace('{', "{{").replace('}', "}}"));
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .unwrap_or(rest.len() - 1);
        let name = &rest[start + 1..end];
        rest = &rest[end + 1..];
        format.push_str("{}");
        match op
            .parameters
            .iter()
            .find(|p| p.location == Location::Path && p.name.api == name)
        {
            Some(p) => {
                let v = ident(&p.name.rust);
                let value = param_value(&p.ty, quote!(#v));
                let style = style_tokens(p.style);
                let explode = p.explode;
                let api = &p.name.api;
                args.push(quote!(::codegen_runtime::encoding::path_segment_named(#api, &#value, #style, #explode)));
            }
            None => args.push(quote!(#name)),
        }
    }
    format.push_str(&rest.replace('{', "{{").replace('}', "}}"));
    let method = format_ident!("{}", op.method.to_uppercase());
    let _ = types;

    let params = op.parameters.iter().filter(|p| p.location != Location::Path).map(|p| {
        let name = ident(&p.name.rust);
        let api = &p.name.api;
        let (binding, value) = if is_argument(p) {
            (quote!(let value = #name;), param_value(&p.ty, quote!(value)))
        } else {
            (quote!(), param_value(&p.ty, quote!(value)))
        };
        let apply = match p.location {
            Location::Query => {
                let style = style_tokens(p.style);
                let explode = p.explode;
                quote! {
                    request.query.extend(::codegen_runtime::encoding::query_pairs(#api, &#value, #style, #explode));
                }
            }
            Location::Header => {
                let explode = p.explode;
                quote! {
                    request = request
                        .header(#api, &::codegen_runtime::encoding::header_value(&#value, #explode))
                        .map_err(|e| ::codegen_runtime::Error::InvalidRequest(e.0))?;
                }
            }
            Location::Cookie => quote! {
                cookies.extend(::codegen_runtime::encoding::query_pairs(#api, &#value, ::codegen_runtime::Style::Form, false));
            },
            Location::Path => quote!(),
        };
        if is_argument(p) {
            quote! {{ #binding #apply }}
        } else {
            quote! {
                if let ::std::option::Option::Some(value) = options.#name.as_ref() {
                    #apply
                }
            }
        }
    });
    let has_cookies = op.parameters.iter().any(|p| p.location == Location::Cookie);
    let cookies_init = has_cookies.then(|| quote!(let mut cookies: ::std::vec::Vec<(::std::string::String, ::std::string::String)> = ::std::vec::Vec::new();));
    let cookies_apply = has_cookies.then(|| {
        quote! {
            if !cookies.is_empty() {
                let header: ::std::vec::Vec<::std::string::String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
                request = request.header("cookie", &header.join("; ")).map_err(|e| ::codegen_runtime::Error::InvalidRequest(e.0))?;
            }
        }
    });
    let body = op.body.as_ref().map(|b| {
        let set = |c: &Content, v: TokenStream| -> TokenStream {
            let media = &c.media_type;
            match c.kind {
                BodyKind::Json => quote! {
                    request = request.json(#v).map_err(|e| ::codegen_runtime::Error::InvalidRequest(e.0))?;
                    request = request.header("content-type", #media).map_err(|e| ::codegen_runtime::Error::InvalidRequest(e.0))?;
                },
                BodyKind::Form => quote! {
                    let pairs = match ::serde_json::to_value(#v).map_err(|e| ::codegen_runtime::Error::InvalidRequest(e.to_string()))?.to_param() {
                        ::codegen_runtime::ParamValue::Object(pairs) => pairs,
                        other => ::std::vec![(::std::string::String::new(), ::codegen_runtime::encoding::header_value(&other, false))],
                    };
                    request = request.body(::codegen_runtime::ApiBody::Form(pairs));
                },
                BodyKind::Multipart => quote! {
                    request = request.body(::codegen_runtime::ApiBody::Multipart(#v));
                },
                BodyKind::Text => quote! {
                    request = request.body(::codegen_runtime::ApiBody::Bytes {
                        content_type: #media.to_string(),
                        data: ::codegen_runtime::bytes::Bytes::from(#v.into_bytes()),
                    });
                },
                BodyKind::Binary => quote! {
                    request = request.body(::codegen_runtime::ApiBody::Stream { content_type: #media.to_string(), body: #v });
                },
            }
        };
        let owned = |c: &Content| matches!(c.kind, BodyKind::Multipart | BodyKind::Binary | BodyKind::Text);
        if b.contents.len() > 1 {
            let module = ident(&op.name.rust);
            let arms = b.contents.iter().map(|c| {
                let v = format_ident!("{}", c.variant);
                let value = if owned(c) { quote!(value) } else { quote!(&value) };
                let s = set(c, value);
                quote!(#module::Body::#v(value) => { #s })
            });
            let tokens = quote!(match body { #(#arms)* });
            if b.required {
                tokens
            } else {
                quote!(if let ::std::option::Option::Some(body) = body { #tokens })
            }
        } else {
            let s = set(&b.contents[0], quote!(body));
            if b.required {
                s
            } else {
                quote!(if let ::std::option::Option::Some(body) = body { #s })
            }
        }
    });
    let path = if args.is_empty() {
        let literal = op.path.as_str();
        quote!(#literal)
    } else {
        quote!(format!(#format, #(#args),*))
    };
    quote! {
        let mut request = ::codegen_runtime::ApiRequest::new(
            ::codegen_runtime::http::Method::#method,
            #path,
        );
        #cookies_init
        #(#params)*
        #cookies_apply
        #body
    }
}

/// The method's signature arguments (after `&self`).
fn arguments(op: &Operation, types: &TokenStream) -> Vec<TokenStream> {
    let mut out: Vec<TokenStream> = op
        .parameters
        .iter()
        .filter(|p| is_argument(p))
        .map(|p| {
            let name = ident(&p.name.rust);
            let t = argument_type(&p.ty, types);
            quote!(#name: #t)
        })
        .collect();
    if let Some(b) = &op.body {
        let module = ident(&op.name.rust);
        let t = if b.contents.len() > 1 {
            quote!(#module::Body)
        } else {
            let c = &b.contents[0];
            match (c.kind, &c.ty) {
                (BodyKind::Json | BodyKind::Form, Some(Ty::Vec(inner))) => {
                    let inner = ty_at(inner, types);
                    quote!(&[#inner])
                }
                (BodyKind::Json | BodyKind::Form, _) => {
                    let t = body_type(c, types);
                    quote!(&#t)
                }
                _ => body_type(c, types),
            }
        };
        out.push(if b.required {
            quote!(body: #t)
        } else {
            quote!(body: ::std::option::Option<#t>)
        });
    }
    if op.parameters.iter().any(|p| !is_argument(p)) {
        let module = ident(&op.name.rust);
        out.push(quote!(options: &#module::Options));
    }
    out
}

fn method(op: &Operation, types: &TokenStream) -> TokenStream {
    let name = ident(&op.name.rust);
    let module = ident(&op.name.rust);
    let summary = format!(
        " `{} {}` ({})",
        op.method.to_uppercase(),
        op.path,
        op.name.api
    );
    let d = doc(op.doc.as_deref());
    let args = arguments(op, types);
    let build = build_request(op, types);
    let decode_fn = format_ident!("decode_{}", op.name.rust.trim_start_matches("r#"));
    let request_fn = format_ident!("request_{}", op.name.rust.trim_start_matches("r#"));
    let arg_names: Vec<TokenStream> = args
        .iter()
        .map(|a| {
            let s = a.to_string();
            let n = s.split(':').next().unwrap_or("").trim().to_string();
            n.parse().unwrap_or_default()
        })
        .collect();
    // Exact statuses first, then ranges, then `default`, as the match below tries them.
    let ordered: Vec<&Response> = op
        .responses
        .iter()
        .filter(|r| r.status != "default" && !r.status.ends_with("XX"))
        .chain(op.responses.iter().filter(|r| r.status.ends_with("XX")))
        .chain(op.responses.iter().filter(|r| r.status == "default"))
        .collect();
    let pattern = |r: &Response| -> TokenStream {
        if r.status == "default" {
            quote!(_)
        } else if r.status.ends_with("XX") {
            let lo = u16::from(r.status.as_bytes()[0] - b'0') * 100;
            let hi = lo + 99;
            quote!(#lo..=#hi)
        } else {
            let code: u16 = r.status.parse().unwrap_or(0);
            quote!(#code)
        }
    };
    // A body that is neither typed JSON nor text goes to the caller unread, to stream.
    let unread = |r: &Response| {
        chosen_content(r).is_some_and(|c| {
            !(c.kind == BodyKind::Text || (c.kind == BodyKind::Json && c.ty.is_some()))
        })
    };
    let decode_arms = ordered.iter().map(|r| {
        let v = status_variant(&r.status);
        let p = pattern(r);
        let kind = chosen_content(r).map(|c| (c.kind, c.ty.is_some()));
        let body = match (r.is_success(), kind) {
            (true, None) => quote!(::std::result::Result::Ok(#module::Success::#v)),
            (true, Some((BodyKind::Json, true))) => quote!(response.ok_json(#module::Success::#v)),
            (true, Some((BodyKind::Text, _))) => quote!(response.ok_text(#module::Success::#v)),
            (true, Some(_)) => quote!(::std::result::Result::Ok(#module::Success::#v(response))),
            (false, None) => quote!(response.err_with(|_| #module::Failure::#v)),
            (false, Some((BodyKind::Json, true))) => {
                quote!(response.err_json(#module::Failure::#v))
            }
            (false, Some((BodyKind::Text, _))) => quote!(response.err_text(#module::Failure::#v)),
            (false, Some(_)) => quote!(response.err_with(#module::Failure::#v)),
        };
        quote!(#p => #body,)
    });
    let fallback = (!op.responses.iter().any(|r| r.status == "default"))
        .then(|| quote!(_ => response.unexpected_status(),));
    let unread_fn = if ordered.iter().any(|r| unread(r)) {
        let arms = ordered.iter().map(|r| {
            let p = pattern(r);
            let keep = unread(r);
            quote!(#p => #keep,)
        });
        let fallback = fallback.as_ref().map(|_| quote!(_ => false,));
        quote!(|status| match status { #(#arms)* #fallback })
    } else {
        quote!(::codegen_runtime::read_all)
    };
    quote! {
        #d
        ///
        #[doc = #summary]
        pub fn #name(&self, #(#args),*) -> impl ::std::future::Future<Output = ::std::result::Result<#module::Success, ::codegen_runtime::Error<#module::Failure>>> + '_ {
            self.raw.call(Self::#request_fn(#(#arg_names),*), #unread_fn, Self::#decode_fn)
        }

        #[doc(hidden)]
        pub fn #request_fn(#(#args),*) -> ::std::result::Result<::codegen_runtime::ApiRequest, ::codegen_runtime::Error<#module::Failure>> {
            #build
            ::std::result::Result::Ok(request)
        }

        #[doc(hidden)]
        pub fn #decode_fn(response: ::codegen_runtime::ApiResponse) -> ::std::result::Result<#module::Success, ::codegen_runtime::Error<#module::Failure>> {
            match response.status() {
                #(#decode_arms)*
                #fallback
            }
        }
    }
}

/// An expression turning `handle` (a `String`) into a value of the poll parameter's type, or
/// returning a `WaitError` when it is not one.
fn handle_conversion(t: &Ty) -> TokenStream {
    let invalid = quote!(|_| ::codegen_runtime::WaitError::Result(
        ::codegen_runtime::Error::InvalidRequest(format!(
            "job handle {handle:?} is not a valid poll parameter"
        ))
    ));
    match t {
        Ty::String => quote!(handle.clone()),
        Ty::Secret => quote!(::codegen_runtime::Secret::new(handle.clone())),
        Ty::Bool | Ty::I32 | Ty::I64 | Ty::F32 | Ty::F64 => {
            quote!(handle.parse().map_err(#invalid)?)
        }
        Ty::Vec(inner) => {
            let one = handle_conversion(inner);
            quote!(::std::vec![#one])
        }
        _ => {
            quote!(::serde_json::from_value(::serde_json::Value::String(handle.clone())).map_err(#invalid)?)
        }
    }
}

/// `wait_for_<op>`: follows the job an `x-job` operation started, by polling the declared operation.
fn waiter(api: &Api, op: &Operation) -> Option<TokenStream> {
    let job = op.job.as_ref()?;
    let poll = api
        .operations
        .iter()
        .find(|o| o.name.api == job.poll.operation_id)?;
    let poll_module = ident(&poll.name.rust);
    let poll_decode = format_ident!("decode_{}", poll.name.rust.trim_start_matches("r#"));
    let name = format_ident!("wait_for_{}", op.name.rust.trim_start_matches("r#"));
    let module = ident(&op.name.rust);
    let strs = |v: &[String]| quote!(&[#(#v),*]);
    let (running, succeeded, failed, cancelled, expired) = (
        strs(&job.states.running),
        strs(&job.states.succeeded),
        strs(&job.states.failed),
        strs(&job.states.cancelled),
        strs(&job.states.expired),
    );
    let state = match (job.state.location, &job.state.pointer) {
        (StateLocation::Body, Some(p)) => quote!(::codegen_runtime::StateSource::Body(#p)),
        _ => quote!(::codegen_runtime::StateSource::Status),
    };
    let transitions = job
        .transitions
        .iter()
        .map(|(from, to)| quote!((#from, &[#(#to),*])));
    // How the poll request is built: the handle fills `poll.parameter`; `fromRequest` parameters come
    // from the caller (they were arguments of the starting call).
    let mut poll_args = Vec::new();
    let mut extra_args = Vec::new();
    let handle_param = poll
        .parameters
        .iter()
        .find(|p| p.name.api == job.poll.parameter);
    let handle_ty = handle_param.map(|p| p.ty.clone()).unwrap_or(Ty::String);
    let handle_value = handle_conversion(&handle_ty);
    for p in poll.parameters.iter().filter(|p| is_argument(p)) {
        let pn = ident(&p.name.rust);
        if p.name.api == job.poll.parameter {
            poll_args.push(match &p.ty {
                Ty::String => quote!(&handle_value),
                Ty::Vec(_) => quote!(&handle_value),
                Ty::Bool | Ty::I32 | Ty::I64 | Ty::F32 | Ty::F64 => quote!(handle_value),
                _ => quote!(&handle_value),
            });
        } else {
            let t = argument_type(&p.ty, &quote!(super::types));
            extra_args.push(quote!(#pn: #t));
            poll_args.push(quote!(#pn));
        }
    }
    if poll.parameters.iter().any(|p| !is_argument(p)) {
        match handle_param.filter(|p| !is_argument(p)) {
            // The handle goes in an optional parameter (IBM's `runId`, `ids`).
            Some(p) => {
                let field = ident(&p.name.rust);
                poll_args.push(quote!(&#poll_module::Options { #field: ::std::option::Option::Some(handle_value.clone()), ..::std::default::Default::default() }));
            }
            None => poll_args.push(quote!(&::std::default::Default::default())),
        }
    }
    let handle_doc = match (job.handle.location, job.handle.format) {
        (HandleLocation::Body, HandleFormat::Id) => format!(
            " `handle` is `{}` of the {} answer.",
            job.handle.pointer.as_deref().unwrap_or(""),
            job.handle.status
        ),
        (HandleLocation::Body, HandleFormat::Url) => format!(
            " `handle` is the URL at `{}` of the {} answer, or the id in it.",
            job.handle.pointer.as_deref().unwrap_or(""),
            job.handle.status
        ),
        (HandleLocation::Header, _) => format!(
            " `handle` is the `{}` header of the {} answer.",
            job.handle.header.as_deref().unwrap_or(""),
            job.handle.status
        ),
    };
    let url_handle = (job.handle.format == HandleFormat::Url).then(|| {
        let template = &poll.path;
        let param = &job.poll.parameter;
        quote! {
            let handle = if handle.contains('/') {
                ::codegen_runtime::job::handle_from_url(handle, #template, #param).unwrap_or_else(|| handle.to_string())
            } else {
                handle.to_string()
            };
        }
    });
    let handle_binding = url_handle.unwrap_or_else(|| quote!(let handle = handle.to_string();));
    let request_fn = format_ident!("request_{}", poll.name.rust.trim_start_matches("r#"));
    let doc_text = format!(
        " Waits for the job that [`Client::{}`] started: polls [`Client::{}`] every `wait.interval` until the job reaches a terminal state or `wait.deadline` passes, and decodes the final answer.",
        op.name.rust.trim_start_matches("r#"),
        poll.name.rust.trim_start_matches("r#")
    );
    let handle_fn = format_ident!("{}_job_handle", op.name.rust.trim_start_matches("r#"));
    let handle_extract = match (job.handle.location, &job.handle.pointer, &job.handle.header) {
        (HandleLocation::Body, Some(pointer), _) => {
            let v = status_variant(&job.handle.status);
            let has_payload = op
                .responses
                .iter()
                .find(|r| r.status == job.handle.status)
                .and_then(|r| chosen_content(r))
                .is_some_and(|c| c.kind == BodyKind::Json && c.ty.is_some());
            has_payload.then(|| quote! {
                match success {
                    #module::Success::#v(body) => {
                        let value = ::serde_json::to_value(body).ok()?;
                        match value.pointer(#pointer)? {
                            ::serde_json::Value::String(s) => ::std::option::Option::Some(s.clone()),
                            ::serde_json::Value::Null => ::std::option::Option::None,
                            other => ::std::option::Option::Some(other.to_string()),
                        }
                    }
                    #[allow(unreachable_patterns)]
                    _ => ::std::option::Option::None,
                }
            })
        }
        _ => None,
    };
    let handle_fn_tokens = handle_extract.map(|body| {
        let d = format!(" The job handle in an answer of [`Client::{}`], to pass to [`Client::{}`].", op.name.rust.trim_start_matches("r#"), name);
        quote! {
            #[doc = #d]
            pub fn #handle_fn(success: &#module::Success) -> ::std::option::Option<::std::string::String> {
                #body
            }
        }
    });
    Some(quote! {
        #[doc = #doc_text]
        ///
        #[doc = #handle_doc]
        pub async fn #name(
            &self,
            handle: &str,
            #(#extra_args,)*
            wait: &::codegen_runtime::WaitOptions,
        ) -> ::std::result::Result<#poll_module::Success, ::codegen_runtime::WaitError<#poll_module::Failure>> {
            const SPEC: ::codegen_runtime::JobSpec = ::codegen_runtime::JobSpec {
                state: #state,
                running: #running,
                succeeded: #succeeded,
                failed: #failed,
                cancelled: #cancelled,
                expired: #expired,
                transitions: &[#(#transitions),*],
            };
            #handle_binding
            let handle_value = #handle_value;
            let raw = self.raw.clone();
            let outcome = ::codegen_runtime::job::wait(&SPEC, wait, || {
                let request = Self::#request_fn(#(#poll_args),*);
                let raw = raw.clone();
                async move {
                    let request = request.map_err(|e| ::codegen_runtime::TransportError::Io(::std::io::Error::new(::std::io::ErrorKind::InvalidInput, e.to_string())))?;
                    let response = raw.send(request).await?;
                    let status = response.status();
                    ::std::result::Result::Ok((status, response.bytes().await?))
                }
            })
            .await?;
            let response = ::codegen_runtime::ApiResponse::from_parts(
                outcome.status,
                ::codegen_runtime::http::HeaderMap::new(),
                outcome.body,
            );
            Self::#poll_decode(response).map_err(::codegen_runtime::WaitError::Result)
        }

        #handle_fn_tokens
    })
}
