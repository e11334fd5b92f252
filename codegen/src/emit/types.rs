//! The type space as Rust items: structs, open string enums, unions and aliases.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::tokens::{bare, doc, ident, ty};
use crate::ir::types::{Field, Struct, Ty, TypeDef, TypeKind, Variant};
use crate::ir::TypeSpace;

pub fn emit(space: &TypeSpace) -> TokenStream {
    let items = space.types.values().map(|def| match &def.kind {
        TypeKind::Struct(s) => structure(def, s),
        TypeKind::StringEnum { variants } => string_enum(def, variants),
        TypeKind::Union { variants, tag } => union(space, def, variants, tag.as_deref()),
        TypeKind::Alias(t) => {
            let name = ident(&def.name.rust);
            let doc = doc(def.doc.as_deref());
            let t = ty(t);
            quote!(#doc pub type #name = #t;)
        }
    });
    quote! {
        // Doc comments are the spec's prose, which follows Markdown habits, not rustdoc's.
        #![allow(
            clippy::large_enum_variant,
            clippy::doc_lazy_continuation,
            clippy::doc_overindented_list_items,
            clippy::too_long_first_doc_paragraph,
            clippy::empty_docs,
            clippy::tabs_in_doc_comments
        )]
        #(#items)*
    }
}

/// The most fields a struct reads and writes as one tuple (`codegen_runtime::de::Fields`,
/// `codegen_runtime::ser::FieldRefs`); larger ones, and those with `additionalProperties`, read
/// field by field and derive `Serialize`.
const TUPLE_FIELDS: usize = 24;

fn structure(def: &TypeDef, s: &Struct) -> TokenStream {
    let name = ident(&def.name.rust);
    let type_doc = doc(def.doc.as_deref());
    let tuple = s.additional.is_none() && (1..=TUPLE_FIELDS).contains(&s.fields.len());
    let fields = s.fields.iter().map(|f| field(f, !tuple));
    let additional = s.additional.as_ref().map(|t| {
        let t = ty(t);
        quote! {
            /// Members not named above (`additionalProperties`).
            #[serde(flatten)]
            pub additional_properties: ::std::collections::BTreeMap<::std::string::String, #t>,
        }
    });
    let eq = def.eq.then(|| quote!(Eq,));
    let default = s
        .fields
        .iter()
        .all(|f| !f.required)
        .then(|| quote!(Default,));
    let derive_serialize = (!tuple).then(|| quote!(::serde::Serialize));
    let api_name = &def.name.rust;
    // Serde impls are written out rather than derived: see `codegen_runtime::de` for why.
    let (deserialize_body, serialize) = if tuple {
        let bindings: Vec<_> = (0..s.fields.len()).map(|i| format_ident!("f{i}")).collect();
        let names: Vec<_> = s.fields.iter().map(|f| ident(&f.name.rust)).collect();
        let de_spec = s.fields.iter().map(|f| {
            let api = &f.name.api;
            let kind = match (f.required, f.nullable) {
                (true, false) => quote!(Required),
                (false, true) => quote!(Nullable),
                // A required but nullable field is an `Option` too; serde's derive reads it absent
                // as `None`, and so does this.
                _ => quote!(Optional),
            };
            quote!((#api, ::codegen_runtime::de::Kind::#kind))
        });
        let ser_spec = s.fields.iter().map(|f| {
            let api = &f.name.api;
            let kind = if f.required {
                quote!(Always)
            } else {
                quote!(SkipNone)
            };
            quote!((#api, ::codegen_runtime::ser::Kind::#kind))
        });
        (
            quote! {
                let (#(#bindings,)*) = ::codegen_runtime::de::fields(deserializer, #api_name, &[#(#de_spec),*])?;
                ::std::result::Result::Ok(Self { #(#names: #bindings,)* })
            },
            Some(quote! {
                impl ::serde::Serialize for #name {
                    fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                        ::codegen_runtime::ser::fields(serializer, &[#(#ser_spec),*], (#(&self.#names,)*))
                    }
                }
            }),
        )
    } else {
        let takes = s.fields.iter().map(|f| {
            let field = ident(&f.name.rust);
            let api = &f.name.api;
            let take = match (f.required, f.nullable) {
                (true, false) => quote!(required),
                (false, true) => quote!(nullable),
                _ => quote!(optional),
            };
            quote!(#field: object.#take(#api)?,)
        });
        let rest = s
            .additional
            .as_ref()
            .map(|_| quote!(additional_properties: object.rest()?,));
        (
            quote! {
                #[allow(unused_mut)]
                let mut object = ::codegen_runtime::de::object(deserializer, #api_name)?;
                ::std::result::Result::Ok(Self { #(#takes)* #rest })
            },
            None,
        )
    };
    quote! {
        #type_doc
        #[derive(Debug, Clone, PartialEq, #eq #default #derive_serialize)]
        pub struct #name {
            #(#fields)*
            #additional
        }
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                #deserialize_body
            }
        }
        #serialize
    }
}

/// A struct field; with `serde_attributes`, the attributes its derived `Serialize` reads.
fn field(f: &Field, serde_attributes: bool) -> TokenStream {
    let name = ident(&f.name.rust);
    let doc = doc(f.doc.as_deref());
    let api = &f.name.api;
    let rename = (bare(&f.name.rust) != api).then(|| quote!(rename = #api,));
    let inner = ty(&f.ty);
    // Serialization only: reading is written out in the struct's `Deserialize` impl.
    let (t, attrs) = match (f.required, f.nullable) {
        (true, false) => (inner, quote!()),
        // Present but possibly null.
        (true, true) => (quote!(::std::option::Option<#inner>), quote!()),
        // Absent or a value.
        (false, false) => (
            quote!(::std::option::Option<#inner>),
            quote!(skip_serializing_if = "::std::option::Option::is_none",),
        ),
        // Absent (outer None), null (Some(None)) or a value: three states the API tells apart.
        (false, true) => (
            quote!(::std::option::Option<::std::option::Option<#inner>>),
            quote!(
                skip_serializing_if = "::std::option::Option::is_none",
                serialize_with = "::codegen_runtime::nullable::serialize",
            ),
        ),
    };
    let serde = if serde_attributes && (rename.is_some() || !attrs.is_empty()) {
        quote!(#[serde(#rename #attrs)])
    } else {
        quote!()
    };
    quote! {
        #doc
        #serde
        pub #name: #t,
    }
}

fn string_enum(def: &TypeDef, variants: &[crate::ir::names::Name]) -> TokenStream {
    let name = ident(&def.name.rust);
    let type_doc = doc(def.doc.as_deref());
    let idents: Vec<_> = variants.iter().map(|v| ident(&v.rust)).collect();
    let values: Vec<&str> = variants.iter().map(|v| v.api.as_str()).collect();
    // Quoted, so an empty or blank value still shows in the docs.
    let value_docs = values.iter().map(|v| format!(" {v:?}"));
    let separator = def.doc.is_some().then(|| quote!(#[doc = ""]));
    quote! {
        #type_doc
        #separator
        /// Open: a value this spec does not list is kept as `Unknown`, because appliances add values
        /// between firmware releases.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum #name {
            #(#[doc = #value_docs] #idents,)*
            /// A value this spec does not list.
            Unknown(::std::string::String),
        }
        impl #name {
            /// The value as the API spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    #(Self::#idents => #values,)*
                    Self::Unknown(other) => other,
                }
            }
        }
        impl ::std::str::FromStr for #name {
            // Not `Self::Err` below: a value spelled `Err` makes that path ambiguous.
            type Err = ::std::convert::Infallible;
            fn from_str(value: &str) -> ::std::result::Result<Self, ::std::convert::Infallible> {
                ::std::result::Result::Ok(match value {
                    #(#values => Self::#idents,)*
                    other => Self::Unknown(::std::string::ToString::to_string(other)),
                })
            }
        }
        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let value = <::std::string::String as ::serde::Deserialize>::deserialize(deserializer)?;
                let ::std::result::Result::Ok(parsed) = value.parse();
                ::std::result::Result::Ok(parsed)
            }
        }
    }
}

/// Whether a variant's own type always writes the tag member: a struct with the tag as a required,
/// non-nullable field. Such a variant serializes as itself; the others go through a JSON value
/// that the tag is added to, which costs an allocation per member.
fn writes_tag(space: &TypeSpace, variant: &Ty, tag: &str) -> bool {
    let name = match variant {
        Ty::Named(name) => name,
        Ty::Boxed(inner) => return writes_tag(space, inner, tag),
        _ => return false,
    };
    match space.types.get(name).map(|def| &def.kind) {
        Some(TypeKind::Struct(s)) => s
            .fields
            .iter()
            .any(|f| f.name.api == tag && f.required && !f.nullable),
        _ => false,
    }
}

fn union(space: &TypeSpace, def: &TypeDef, variants: &[Variant], tag: Option<&str>) -> TokenStream {
    let name = ident(&def.name.rust);
    let type_doc = doc(def.doc.as_deref());
    let eq = def.eq.then(|| quote!(Eq,));
    let cases = variants.iter().map(|v| {
        let n = ident(&v.name.rust);
        let t = ty(&v.ty);
        quote!(#n(#t),)
    });
    let Some(tag) = tag else {
        return quote! {
            #type_doc
            ///
            /// Untagged: the first variant that the value deserializes into, trying variants with
            /// more required fields before those with fewer, and catch-alls last.
            #[derive(Debug, Clone, PartialEq, #eq ::serde::Serialize, ::serde::Deserialize)]
            #[serde(untagged)]
            pub enum #name {
                #(#cases)*
            }
        };
    };
    let serialize_arms = variants.iter().map(|v| {
        let n = ident(&v.name.rust);
        if writes_tag(space, &v.ty, tag) {
            return quote!(Self::#n(v) => return ::serde::Serialize::serialize(v, serializer),);
        }
        let first = v.tags.first().map(String::as_str).unwrap_or_default();
        quote!(Self::#n(v) => (#first, ::serde_json::to_value(v)),)
    });
    let serialize_body = if variants.iter().all(|v| writes_tag(space, &v.ty, tag)) {
        let arms = variants.iter().map(|v| {
            let n = ident(&v.name.rust);
            quote!(Self::#n(v) => ::serde::Serialize::serialize(v, serializer),)
        });
        quote! {
            match self {
                #(#arms)*
                Self::Other(value) => ::serde::Serialize::serialize(value, serializer),
            }
        }
    } else {
        quote! {
            let (tag, value) = match self {
                #(#serialize_arms)*
                Self::Other(value) => return ::serde::Serialize::serialize(value, serializer),
            };
            let mut value = value.map_err(::serde::ser::Error::custom)?;
            if let ::serde_json::Value::Object(members) = &mut value {
                members.entry(#tag).or_insert_with(|| ::serde_json::Value::from(tag));
            }
            ::serde::Serialize::serialize(&value, serializer)
        }
    };
    let arms = variants.iter().map(|v| {
        let n = ident(&v.name.rust);
        let tags = &v.tags;
        quote! {
            #(::std::option::Option::Some(#tags))|* => ::serde_json::from_value(value).map(Self::#n).map_err(::serde::de::Error::custom),
        }
    });
    let tag_doc =
        format!(" Chosen by the value of `{tag}`; an unknown value is kept, whole, as `Other`.");
    quote! {
        #type_doc
        ///
        #[doc = #tag_doc]
        #[derive(Debug, Clone, PartialEq)]
        pub enum #name {
            #(#cases)*
            /// A variant this spec does not list.
            Other(::serde_json::Value),
        }
        // The tag goes back in when the variant's own schema does not list it (a `mapping` may
        // point at any schema), so what deserialized as a variant serializes as one.
        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                #serialize_body
            }
        }
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let value = <::serde_json::Value as ::serde::Deserialize>::deserialize(deserializer)?;
                match value.get(#tag).and_then(::serde_json::Value::as_str) {
                    #(#arms)*
                    _ => ::std::result::Result::Ok(Self::Other(value)),
                }
            }
        }
    }
}
