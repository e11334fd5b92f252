//! A lookup from type name to a serde round trip, so tests can check any example or fixture against
//! the type its schema became. Compiled only with the generated crate's `type-registry` feature.

use proc_macro2::TokenStream;
use quote::quote;

use super::tokens::ident;
use crate::ir::TypeSpace;

pub fn emit(space: &TypeSpace) -> TokenStream {
    let names: Vec<&str> = space.types.keys().map(String::as_str).collect();
    let idents = names.iter().map(|n| ident(n));
    quote! {
        //! Type name to serde round trip, for tests (feature `type-registry`).
        use super::types::*;
        fn round_trip<T: ::serde::Serialize + ::serde::de::DeserializeOwned>(
            value: ::serde_json::Value,
        ) -> ::std::result::Result<::serde_json::Value, ::serde_json::Error> {
            ::serde_json::to_value(::serde_json::from_value::<T>(value)?)
        }
        /// Deserializes `value` as the type named `type_name` and serializes it back; `None` when no
        /// type has that name.
        pub fn round_trip_as(
            type_name: &str,
            value: ::serde_json::Value,
        ) -> ::std::option::Option<::std::result::Result<::serde_json::Value, ::serde_json::Error>> {
            ::std::option::Option::Some(match type_name {
                #(#names => round_trip::<#idents>(value),)*
                _ => return ::std::option::Option::None,
            })
        }
    }
}
