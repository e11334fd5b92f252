//! Small token helpers shared by the emitters.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::ir::Ty;

/// An identifier from a Rust name made by `ir::names` (which may be raw: `r#type`).
pub fn ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

/// `#[doc = "..."]` attributes, one per line, so prettyplease prints `///` comments.
pub fn doc(text: Option<&str>) -> TokenStream {
    let Some(text) = text else {
        return TokenStream::new();
    };
    let lines = text.trim_end().lines().map(|line| {
        let line = format!(" {}", line.trim_end());
        quote!(#[doc = #line])
    });
    quote!(#(#lines)*)
}

/// The Rust type of a [`Ty`].
pub fn ty(t: &Ty) -> TokenStream {
    match t {
        Ty::String => quote!(::std::string::String),
        Ty::Secret => quote!(::codegen_runtime::Secret),
        Ty::Bool => quote!(bool),
        Ty::I32 => quote!(i32),
        Ty::I64 => quote!(i64),
        Ty::F32 => quote!(f32),
        Ty::F64 => quote!(f64),
        Ty::Json => quote!(::serde_json::Value),
        Ty::JsonObject => quote!(::serde_json::Map<::std::string::String, ::serde_json::Value>),
        Ty::Named(n) => {
            let i = ident(n);
            quote!(#i)
        }
        Ty::Vec(inner) => {
            let inner = ty(inner);
            quote!(::std::vec::Vec<#inner>)
        }
        Ty::Map(inner) => {
            let inner = ty(inner);
            quote!(::std::collections::BTreeMap<::std::string::String, #inner>)
        }
        Ty::Boxed(inner) => {
            let inner = ty(inner);
            quote!(::std::boxed::Box<#inner>)
        }
    }
}

/// The API name without a raw-identifier prefix, to compare with the API's spelling.
pub fn bare(rust: &str) -> &str {
    rust.strip_prefix("r#").unwrap_or(rust)
}

/// [`ty`] as written from another module: named types are reached through `types` (a path such as
/// `super::types`), so a spec type called `Success` or `Options` cannot be shadowed by the items an
/// emitter defines next to it.
pub fn ty_at(t: &Ty, types: &TokenStream) -> TokenStream {
    match t {
        Ty::Named(n) => {
            let i = ident(n);
            quote!(#types::#i)
        }
        Ty::Vec(inner) => {
            let inner = ty_at(inner, types);
            quote!(::std::vec::Vec<#inner>)
        }
        Ty::Map(inner) => {
            let inner = ty_at(inner, types);
            quote!(::std::collections::BTreeMap<::std::string::String, #inner>)
        }
        Ty::Boxed(inner) => {
            let inner = ty_at(inner, types);
            quote!(::std::boxed::Box<#inner>)
        }
        other => ty(other),
    }
}
