//! Deserialization of generated structs: one generic reader instead of a derived visitor per
//! struct.
//!
//! serde's `#[derive(Deserialize)]` expands, for every struct, into a field enum, two visitors and
//! a map loop; across the hundreds of structs of a vendor API that is most of what `cargo check`
//! spends on a generated crate. A generated struct instead reads the JSON object into a map once
//! and takes each field from it, which type-checks as a handful of calls to the generic functions
//! below. The price is one more pass over nested objects while decoding, which is small next to
//! the network round trip that produced them.
//!
//! The meaning of each field kind is the one the generated types document: a required field must
//! be present; an optional field may be absent or `null` (both `None`); an optional *and*
//! nullable field keeps absent (`None`), `null` (`Some(None)`) and a value apart. Members the
//! struct does not name are ignored, or collected by [`Object::rest`] when the schema has
//! `additionalProperties`. Errors name the field.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, Error, Unexpected};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A JSON object being taken apart into the fields of a generated struct.
pub struct Object<E> {
    members: Map<String, Value>,
    error: PhantomData<fn() -> E>,
}

/// Reads an object for the struct `name` (named in the error when the value is not an object).
pub fn object<'de, D: Deserializer<'de>>(
    deserializer: D,
    name: &'static str,
) -> Result<Object<D::Error>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Object(members) => Ok(Object {
            members,
            error: PhantomData,
        }),
        other => Err(D::Error::invalid_type(unexpected(&other), &name)),
    }
}

impl<E: Error> Object<E> {
    /// A field that must be present.
    pub fn required<T: DeserializeOwned>(&mut self, name: &'static str) -> Result<T, E> {
        match self.members.remove(name) {
            Some(value) => decode(name, value),
            None => Err(E::missing_field(name)),
        }
    }

    /// A field that may be absent or `null`: both are `None`.
    pub fn optional<T: DeserializeOwned>(&mut self, name: &'static str) -> Result<Option<T>, E> {
        match self.members.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => decode(name, value).map(Some),
        }
    }

    /// A field that may be absent (`None`), `null` (`Some(None)`) or a value (`Some(Some(v))`).
    pub fn nullable<T: DeserializeOwned>(
        &mut self,
        name: &'static str,
    ) -> Result<Option<Option<T>>, E> {
        match self.members.remove(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(value) => decode(name, value).map(|v| Some(Some(v))),
        }
    }

    /// The members no field took (`additionalProperties`). Call it after every named field.
    pub fn rest<T: DeserializeOwned>(self) -> Result<BTreeMap<String, T>, E> {
        self.members
            .into_iter()
            .map(|(key, value)| match T::deserialize(value) {
                Ok(v) => Ok((key, v)),
                Err(e) => Err(E::custom(Located(&key, e))),
            })
            .collect()
    }
}

/// How a field is read, for [`fields`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Must be present (`T`).
    Required,
    /// May be absent or `null`, both `None` (`Option<T>`).
    Optional,
    /// Absent (`None`), `null` (`Some(None)`) or a value (`Some(Some(v))`): `Option<Option<T>>`.
    Nullable,
}

/// Reads the struct `name` as a tuple of its fields, each named and read as `spec` says: the whole
/// `Deserialize` impl of a generated struct is this one call (and the struct literal).
pub fn fields<'de, D: Deserializer<'de>, F: Fields>(
    deserializer: D,
    name: &'static str,
    spec: &[(&'static str, Kind)],
) -> Result<F, D::Error> {
    let mut object = object(deserializer, name)?;
    F::take(&mut object.members, spec)
}

/// Tuples of field values that [`fields`] can fill, up to 32 fields (larger structs read field by
/// field through [`Object`]).
pub trait Fields: Sized {
    /// Takes each field from `members` as `spec` says.
    fn take<E: Error>(
        members: &mut Map<String, Value>,
        spec: &[(&'static str, Kind)],
    ) -> Result<Self, E>;
}

fn take_one<T: DeserializeOwned, E: Error>(
    members: &mut Map<String, Value>,
    (name, kind): (&'static str, Kind),
) -> Result<T, E> {
    let value = members.remove(name);
    let decoded = match (kind, value) {
        (Kind::Required, None) => return Err(E::missing_field(name)),
        // `Option<T>` (and `Option<Option<T>>`) read an absent field as `None`.
        (_, None) => T::deserialize(Value::Null),
        // `Option<Option<T>>` reads an explicit `null` as `Some(None)`.
        (Kind::Nullable, Some(Value::Null)) => T::deserialize(SomeNull),
        (_, Some(value)) => T::deserialize(value),
    };
    decoded.map_err(|e| E::custom(Located(name, e)))
}

/// A deserializer for an explicit `null` that an `Option` reads as present: `Some(<null>)`.
struct SomeNull;

impl<'de> Deserializer<'de> for SomeNull {
    type Error = serde_json::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        Value::Null.deserialize_any(visitor)
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_some(Value::Null)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

macro_rules! fields_for_tuples {
    ($( ($($t:ident $i:tt),+) )+) => {$(
        impl<$($t: DeserializeOwned),+> Fields for ($($t,)+) {
            fn take<E: Error>(
                members: &mut Map<String, Value>,
                spec: &[(&'static str, Kind)],
            ) -> Result<Self, E> {
                Ok(($(take_one::<$t, E>(members, spec[$i])?,)+))
            }
        }
    )+};
}

fields_for_tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, F 4)
    (A 0, B 1, C 2, D 3, F 4, G 5)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12, O 13)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12, O 13, P 14)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12, O 13, P 14, Q 15)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12, O 13, P 14, Q 15, R 16)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12, O 13, P 14, Q 15, R 16, S 17)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12, O 13, P 14, Q 15, R 16, S 17, T 18)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12, O 13, P 14, Q 15, R 16, S 17, T 18, U 19)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12, O 13, P 14, Q 15, R 16, S 17, T 18, U 19, V 20)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12, O 13, P 14, Q 15, R 16, S 17, T 18, U 19, V 20, W 21)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12, O 13, P 14, Q 15, R 16, S 17, T 18, U 19, V 20, W 21, X 22)
    (A 0, B 1, C 2, D 3, F 4, G 5, H 6, I 7, J 8, K 9, L 10, M 11, N 12, O 13, P 14, Q 15, R 16, S 17, T 18, U 19, V 20, W 21, X 22, Y 23)
}

fn decode<T: DeserializeOwned, E: Error>(name: &str, value: Value) -> Result<T, E> {
    T::deserialize(value).map_err(|e| E::custom(Located(name, e)))
}

/// An error inside a field, prefixed with the field's name: `field `size`: invalid type: ...`.
struct Located<'a>(&'a str, serde_json::Error);

impl Display for Located<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "field `{}`: {}", self.0, self.1)
    }
}

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Unexpected::Unsigned(u),
            (_, Some(i), _) => Unexpected::Signed(i),
            (_, _, Some(f)) => Unexpected::Float(f),
            _ => Unexpected::Other("number"),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a generated struct's `Deserialize` impl looks like.
    #[derive(Debug, PartialEq)]
    struct Disk {
        name: String,
        size: Option<u64>,
        label: Option<Option<String>>,
        extra: BTreeMap<String, i64>,
    }

    impl<'de> Deserialize<'de> for Disk {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let mut object = object(deserializer, "Disk")?;
            Ok(Disk {
                name: object.required("name")?,
                size: object.optional("size")?,
                label: object.nullable("label")?,
                extra: object.rest()?,
            })
        }
    }

    fn parse(json: &str) -> Result<Disk, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn fields_take_their_members_and_the_rest_is_collected() {
        let disk = parse(r#"{"name":"a","size":3,"label":null,"x":1,"y":2}"#).unwrap();
        assert_eq!(disk.name, "a");
        assert_eq!(disk.size, Some(3));
        assert_eq!(disk.label, Some(None));
        assert_eq!(
            disk.extra,
            BTreeMap::from([("x".into(), 1), ("y".into(), 2)])
        );
    }

    #[test]
    fn absent_null_and_value_stay_distinct_for_nullable_fields() {
        assert_eq!(parse(r#"{"name":"a"}"#).unwrap().label, None);
        assert_eq!(
            parse(r#"{"name":"a","label":null}"#).unwrap().label,
            Some(None)
        );
        assert_eq!(
            parse(r#"{"name":"a","label":"l"}"#).unwrap().label,
            Some(Some("l".into()))
        );
        // An optional field folds null into absent.
        assert_eq!(parse(r#"{"name":"a","size":null}"#).unwrap().size, None);
    }

    #[test]
    fn errors_name_the_missing_or_mistyped_field() {
        assert!(parse("{}").unwrap_err().contains("missing field `name`"));
        let wrong = parse(r#"{"name":"a","size":"big"}"#).unwrap_err();
        assert!(wrong.contains("field `size`"), "{wrong}");
        assert!(wrong.contains("invalid type"), "{wrong}");
        let extra = parse(r#"{"name":"a","x":"one"}"#).unwrap_err();
        assert!(extra.contains("field `x`"), "{extra}");
        let not_object = parse("[1]").unwrap_err();
        assert!(not_object.contains("expected Disk"), "{not_object}");
    }

    /// The tuple form generated structs use.
    #[derive(Debug, PartialEq)]
    struct Small {
        name: String,
        size: Option<u64>,
        label: Option<Option<String>>,
    }

    impl<'de> Deserialize<'de> for Small {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let (name, size, label) = fields(
                deserializer,
                "Small",
                &[
                    ("name", Kind::Required),
                    ("size", Kind::Optional),
                    ("label", Kind::Nullable),
                ],
            )?;
            Ok(Small { name, size, label })
        }
    }

    #[test]
    fn the_tuple_form_reads_like_the_field_form() {
        let small = |json: &str| serde_json::from_str::<Small>(json).map_err(|e| e.to_string());
        assert_eq!(
            small(r#"{"name":"a","size":null,"label":null,"x":1}"#).unwrap(),
            Small {
                name: "a".into(),
                size: None,
                label: Some(None)
            }
        );
        assert_eq!(small(r#"{"name":"a"}"#).unwrap().label, None);
        assert_eq!(
            small(r#"{"name":"a","label":"l","size":2}"#).unwrap(),
            Small {
                name: "a".into(),
                size: Some(2),
                label: Some(Some("l".into()))
            }
        );
        assert!(small("{}").unwrap_err().contains("missing field `name`"));
        assert!(small(r#"{"name":1}"#).unwrap_err().contains("field `name`"));
        assert!(small("3").unwrap_err().contains("expected Small"));
    }

    #[test]
    fn works_from_values_as_well_as_text() {
        let value = serde_json::json!({"name": "a", "size": 1});
        let disk: Disk = serde_json::from_value(value).unwrap();
        assert_eq!(disk.size, Some(1));
    }
}
