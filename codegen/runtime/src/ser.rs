//! Serialization of generated structs: one generic writer instead of a derived impl per struct.
//!
//! The counterpart of [`crate::de`], for the same reason: a generated struct's `Serialize` impl is
//! one call with its fields as a tuple of references, which type-checks far faster than serde's
//! derive across hundreds of structs. Fields are written in declaration order, as a map; an
//! optional field that is `None` is left out, and `Some(None)` of an optional nullable field is
//! written as `null`.

use serde::ser::{Impossible, SerializeMap};
use serde::{Serialize, Serializer};

/// How a field is written, for [`fields`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Always written (`null` for a `None` of a required nullable field).
    Always,
    /// Left out when `None` (optional fields, `Option<T>` and `Option<Option<T>>`).
    SkipNone,
}

/// Writes a struct as a map of its fields, each named and written as `spec` says.
pub fn fields<S: Serializer, F: FieldRefs>(
    serializer: S,
    spec: &[(&'static str, Kind)],
    values: F,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(values.present(spec)))?;
    values.write(&mut map, spec)?;
    map.end()
}

/// Tuples of references to field values that [`fields`] can write, up to 24 fields (larger
/// structs derive `Serialize`).
pub trait FieldRefs {
    /// How many fields will be written.
    fn present(&self, spec: &[(&'static str, Kind)]) -> usize;
    /// Writes the fields.
    fn write<M: SerializeMap>(
        &self,
        map: &mut M,
        spec: &[(&'static str, Kind)],
    ) -> Result<(), M::Error>;
}

fn skipped<T: Serialize + ?Sized>(value: &T, kind: Kind) -> bool {
    kind == Kind::SkipNone && value.serialize(IsNone).unwrap_or(false)
}

fn write_one<T: Serialize + ?Sized, M: SerializeMap>(
    map: &mut M,
    (name, kind): (&'static str, Kind),
    value: &T,
) -> Result<(), M::Error> {
    if skipped(value, kind) {
        return Ok(());
    }
    map.serialize_entry(name, value)
}

macro_rules! refs_for_tuples {
    ($( ($($t:ident $i:tt),+) )+) => {$(
        impl<$($t: Serialize + ?Sized),+> FieldRefs for ($(&$t,)+) {
            fn present(&self, spec: &[(&'static str, Kind)]) -> usize {
                0 $(+ usize::from(!skipped(self.$i, spec[$i].1)))+
            }
            fn write<Map: SerializeMap>(&self, map: &mut Map, spec: &[(&'static str, Kind)]) -> Result<(), Map::Error> {
                $(write_one(map, spec[$i], self.$i)?;)+
                Ok(())
            }
        }
    )+};
}

refs_for_tuples! {
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

/// A serializer that only answers whether a value is `None`, without writing anything: an
/// `Option` calls `serialize_none` or `serialize_some` first, and the answer is known there.
struct IsNone;

#[derive(Debug)]
struct NotAnOption;

impl std::fmt::Display for NotAnOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not an option")
    }
}

impl std::error::Error for NotAnOption {}

impl serde::ser::Error for NotAnOption {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        NotAnOption
    }
}

macro_rules! not_none {
    ($($method:ident($($arg:ty),*);)*) => {$(
        fn $method(self, $(_: $arg),*) -> Result<bool, NotAnOption> {
            Ok(false)
        }
    )*};
}

impl Serializer for IsNone {
    type Ok = bool;
    type Error = NotAnOption;
    type SerializeSeq = Impossible<bool, NotAnOption>;
    type SerializeTuple = Impossible<bool, NotAnOption>;
    type SerializeTupleStruct = Impossible<bool, NotAnOption>;
    type SerializeTupleVariant = Impossible<bool, NotAnOption>;
    type SerializeMap = Impossible<bool, NotAnOption>;
    type SerializeStruct = Impossible<bool, NotAnOption>;
    type SerializeStructVariant = Impossible<bool, NotAnOption>;

    fn serialize_none(self) -> Result<bool, NotAnOption> {
        Ok(true)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<bool, NotAnOption> {
        Ok(false)
    }
    not_none! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<bool, NotAnOption> {
        Ok(false)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<bool, NotAnOption> {
        Ok(false)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotAnOption> {
        Err(NotAnOption)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotAnOption> {
        Err(NotAnOption)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotAnOption> {
        Err(NotAnOption)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotAnOption> {
        Err(NotAnOption)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotAnOption> {
        Err(NotAnOption)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, NotAnOption> {
        Err(NotAnOption)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotAnOption> {
        Err(NotAnOption)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Patch {
        name: String,
        size: Option<u64>,
        label: Option<Option<String>>,
        note: Option<String>,
        list: Vec<u8>,
    }

    impl Serialize for Patch {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            fields(
                serializer,
                &[
                    ("name", Kind::Always),
                    ("size", Kind::SkipNone),
                    ("label", Kind::SkipNone),
                    ("note", Kind::Always),
                    ("list", Kind::SkipNone),
                ],
                (&self.name, &self.size, &self.label, &self.note, &self.list),
            )
        }
    }

    #[test]
    fn absent_null_and_values_are_written_as_the_kinds_say() {
        let patch = |size, label| Patch {
            name: "a".into(),
            size,
            label,
            note: None,
            list: vec![1],
        };
        assert_eq!(
            serde_json::to_string(&patch(None, None)).unwrap(),
            r#"{"name":"a","note":null,"list":[1]}"#
        );
        assert_eq!(
            serde_json::to_string(&patch(Some(2), Some(None))).unwrap(),
            r#"{"name":"a","size":2,"label":null,"note":null,"list":[1]}"#
        );
        assert_eq!(
            serde_json::to_string(&patch(None, Some(Some("l".into())))).unwrap(),
            r#"{"name":"a","label":"l","note":null,"list":[1]}"#
        );
    }
}
