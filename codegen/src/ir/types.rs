//! The type space: every schema the generated code needs, named, in sorted maps.

use std::collections::BTreeMap;

use super::names::Name;

/// A Rust type as a field, parameter or body refers to it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ty {
    String,
    /// A string the spec marks secret: its `Debug` prints `[redacted]`.
    Secret,
    Bool,
    I32,
    I64,
    F32,
    F64,
    /// Any JSON value: what a construct degrades to when Rust cannot express it.
    Json,
    /// A JSON object with arbitrary members.
    JsonObject,
    /// A named type of the type space, by Rust name.
    Named(String),
    Vec(Box<Ty>),
    Map(Box<Ty>),
    /// A by-value reference that closes a cycle, so the type has a finite size.
    Boxed(Box<Ty>),
}

impl Ty {
    /// The named types this type mentions by value (not through `Vec` or `Map`).
    pub fn by_value(&self) -> Option<&str> {
        match self {
            Ty::Named(n) => Some(n),
            _ => None,
        }
    }

    /// Every named type this type mentions, however deep (`Vec<Map<A>>` mentions `A`).
    pub fn mentions<'t>(&'t self, out: &mut Vec<&'t str>) {
        match self {
            Ty::Named(n) => out.push(n),
            Ty::Vec(t) | Ty::Map(t) | Ty::Boxed(t) => t.mentions(out),
            _ => {}
        }
    }

    /// Whether values of this type can derive `Eq` (floats and JSON cannot).
    pub fn has_float(&self, space: &TypeSpace) -> bool {
        match self {
            Ty::F32 | Ty::F64 | Ty::Json | Ty::JsonObject => true,
            Ty::Vec(t) | Ty::Map(t) | Ty::Boxed(t) => t.has_float(space),
            Ty::Named(n) => space.types.get(n).is_none_or(|t| !t.eq),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TypeDef {
    pub name: Name,
    pub doc: Option<String>,
    /// Where in the spec the type comes from, for reviewers and warnings.
    pub pointer: String,
    pub kind: TypeKind,
    /// Whether the type can derive `Eq` (decided after the whole space is known).
    pub eq: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypeKind {
    Struct(Struct),
    /// A string enum (or a `oneOf` of string enums). Open: values the spec does not list
    /// deserialize into `Unknown(String)`, because appliances add values between firmware releases.
    StringEnum {
        variants: Vec<Name>,
    },
    /// `oneOf`/`anyOf`. With a discriminator (declared, or implied by a required property that has
    /// one allowed value in each branch), the variant is chosen by the tag's value (an unknown value
    /// keeps the raw JSON); without, the first variant that deserializes wins, so lowering orders
    /// variants from the most specific to catch-alls.
    Union {
        variants: Vec<Variant>,
        tag: Option<String>,
    },
    /// A named schema that is just another type (`type: string`, an array, a `$ref`).
    Alias(Ty),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    pub fields: Vec<Field>,
    /// `additionalProperties` next to named fields: the other members, by name.
    pub additional: Option<Ty>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: Name,
    pub ty: Ty,
    pub required: bool,
    pub nullable: bool,
    pub doc: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub name: Name,
    pub ty: Ty,
    /// The discriminator values that select this variant.
    pub tags: Vec<String>,
}

/// Every named type, keyed by Rust name so output order is stable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TypeSpace {
    pub types: BTreeMap<String, TypeDef>,
}
