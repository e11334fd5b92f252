//! OpenAPI 3.0 parameter serialization (the `style` and `explode` of a Parameter Object).
//!
//! Generated clients turn each parameter into a [`ParamValue`] with [`ToParam`], then call
//! [`query_pairs`], [`path_segment_named`] or [`header_value`] with the style the spec declares.
//! Generated servers go the other way with [`split_list`], [`split_list_with_explode`],
//! [`deep_object`] and [`object_from_list`].
//!
//! The examples table of the specification (`color` = `""`, `"blue"`, `["blue","black","brown"]`,
//! `{"R":100,"G":200,"B":150}`) is the test table below. One deliberate deviation from the 3.0.3
//! text: non-exploded `label` joins items with `,` (`.blue,black,brown`), as RFC 6570 (which the
//! styles are defined by) and the corrected table of OpenAPI 3.0.4 and 3.1.1 say; 3.0.3's
//! `.blue.black.brown` made non-exploded and exploded label indistinguishable.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// A parameter value reduced to the three shapes the style table knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// A primitive (string, number, boolean), already formatted.
    Scalar(String),
    /// An array of primitives.
    List(Vec<String>),
    /// An object with primitive property values, in declaration order.
    Object(Vec<(String, String)>),
}

impl ParamValue {
    /// `""`, `[]` and `{}`: the table's "empty" column.
    pub fn is_empty(&self) -> bool {
        match self {
            ParamValue::Scalar(s) => s.is_empty(),
            ParamValue::List(items) => items.is_empty(),
            ParamValue::Object(pairs) => pairs.is_empty(),
        }
    }

    /// The value as a single string, for places where only one is possible (an array item).
    fn flatten(self) -> String {
        match self {
            ParamValue::Scalar(s) => s,
            ParamValue::List(items) => items.join(","),
            ParamValue::Object(pairs) => join_pairs(&pairs, ",", ","),
        }
    }
}

/// Converts a Rust value into a [`ParamValue`]. Generated code implements it for its enums
/// (their wire names) and objects used as parameters.
pub trait ToParam {
    /// The value's parameter shape.
    fn to_param(&self) -> ParamValue;
}

impl<T: ToParam + ?Sized> ToParam for &T {
    fn to_param(&self) -> ParamValue {
        (**self).to_param()
    }
}

impl ToParam for ParamValue {
    fn to_param(&self) -> ParamValue {
        self.clone()
    }
}

impl ToParam for str {
    fn to_param(&self) -> ParamValue {
        ParamValue::Scalar(self.to_owned())
    }
}

impl ToParam for String {
    fn to_param(&self) -> ParamValue {
        ParamValue::Scalar(self.clone())
    }
}

impl ToParam for crate::Secret {
    fn to_param(&self) -> ParamValue {
        ParamValue::Scalar(self.expose().to_owned())
    }
}

macro_rules! to_param_display {
    ($($t:ty),*) => {$(
        impl ToParam for $t {
            fn to_param(&self) -> ParamValue {
                ParamValue::Scalar(self.to_string())
            }
        }
    )*};
}

to_param_display!(
    bool, char, i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64
);

impl<T: ToParam> ToParam for [T] {
    fn to_param(&self) -> ParamValue {
        ParamValue::List(self.iter().map(|item| item.to_param().flatten()).collect())
    }
}

impl<T: ToParam> ToParam for Vec<T> {
    fn to_param(&self) -> ParamValue {
        self.as_slice().to_param()
    }
}

impl<T: ToParam, const N: usize> ToParam for [T; N] {
    fn to_param(&self) -> ParamValue {
        self.as_slice().to_param()
    }
}

/// Objects become [`ParamValue::Object`], arrays [`ParamValue::List`], anything else a scalar.
/// Strings are used without their JSON quotes; `null` is the empty string; a nested array or
/// object (which no style can express) is its compact JSON text.
impl ToParam for serde_json::Value {
    fn to_param(&self) -> ParamValue {
        use serde_json::Value;
        fn scalar(v: &Value) -> String {
            match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            }
        }
        match self {
            Value::Object(map) => {
                ParamValue::Object(map.iter().map(|(k, v)| (k.clone(), scalar(v))).collect())
            }
            Value::Array(items) => ParamValue::List(items.iter().map(scalar).collect()),
            other => ParamValue::Scalar(scalar(other)),
        }
    }
}

/// The `style` of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Style {
    /// Query and cookie default: `color=blue,black`.
    Form,
    /// Path and header default: `blue,black`.
    Simple,
    /// Path: `.blue`.
    Label,
    /// Path: `;color=blue`.
    Matrix,
    /// Query arrays joined by spaces.
    SpaceDelimited,
    /// Query arrays joined by `|`.
    PipeDelimited,
    /// Query objects as `color[R]=100`.
    DeepObject,
}

/// Query-string bytes left alone: the `application/x-www-form-urlencoded` byte serializer's set
/// (alphanumerics and `*-._`). Everything else, delimiters included, is percent-encoded, so a
/// value's own `,` or `&` can never be mistaken for structure.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

/// Path-segment bytes left alone: RFC 3986 unreserved characters. `/`, `?`, `#`, `;`, `,` and `%`
/// inside a value are encoded, so a value can never add a path segment or end the path.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn join_pairs(pairs: &[(String, String)], kv: &str, sep: &str) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}{kv}{v}"))
        .collect::<Vec<_>>()
        .join(sep)
}

/// Serializes a query parameter into un-encoded `(name, value)` pairs; [`build_query`] encodes.
///
/// Exploded `form` (and `spaceDelimited`/`pipeDelimited`, whose exploded form is the same) repeats
/// the name per array item and spreads an object into its own `key=value` pairs; an empty array or
/// object then produces no pair at all, since there is nothing to repeat (a server reads that as
/// absent or empty). Non-exploded forms always produce exactly one pair, `name=` when empty.
/// `deepObject` is only defined for objects; given an array it falls back to exploded `form`.
/// Path-only styles (`simple`, `label`, `matrix`) are treated as `form`.
pub fn query_pairs(
    name: &str,
    value: &ParamValue,
    style: Style,
    explode: bool,
) -> Vec<(String, String)> {
    let one = |v: String| vec![(name.to_owned(), v)];
    let delimiter = match style {
        Style::SpaceDelimited => " ",
        Style::PipeDelimited => "|",
        _ => ",",
    };
    match value {
        ParamValue::Scalar(s) => one(s.clone()),
        ParamValue::List(items) => {
            if explode || style == Style::DeepObject {
                items.iter().map(|i| (name.to_owned(), i.clone())).collect()
            } else {
                one(items.join(delimiter))
            }
        }
        ParamValue::Object(pairs) => {
            if style == Style::DeepObject {
                pairs
                    .iter()
                    .map(|(k, v)| (format!("{name}[{k}]"), v.clone()))
                    .collect()
            } else if explode {
                pairs.clone()
            } else {
                one(join_pairs(pairs, delimiter, delimiter))
            }
        }
    }
}

/// Percent-encodes `(name, value)` pairs into a query string (without the leading `?`).
///
/// `application/x-www-form-urlencoded` rules, except that a space is `%20`, not `+`: `%20` means
/// space to every decoder, while `+` is read literally by path-style decoders some appliances use.
pub fn build_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, QUERY),
                utf8_percent_encode(v, QUERY)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, PATH).to_string()
}

/// Serializes a path parameter into one percent-encoded path segment, for every style but
/// `matrix`, which needs the parameter's name: use [`path_segment_named`] for it.
///
/// Structural characters (`,` `.` `=` `;`) stay literal; the same characters inside names and
/// values are percent-encoded, so the segment can be split again unambiguously.
pub fn path_segment(value: &ParamValue, style: Style, explode: bool) -> String {
    path_segment_named("", value, style, explode)
}

/// [`path_segment`] with the parameter's name, which the `matrix` style writes into the path.
/// Query-only styles are treated as `simple`.
pub fn path_segment_named(name: &str, value: &ParamValue, style: Style, explode: bool) -> String {
    let encoded = |items: &[String]| items.iter().map(|s| enc(s)).collect::<Vec<_>>();
    let encoded_pairs = |pairs: &[(String, String)]| {
        pairs
            .iter()
            .map(|(k, v)| (enc(k), enc(v)))
            .collect::<Vec<_>>()
    };
    match style {
        Style::Label => {
            if value.is_empty() {
                return ".".to_owned();
            }
            let sep = if explode { "." } else { "," };
            let body = match value {
                ParamValue::Scalar(s) => enc(s),
                ParamValue::List(items) => encoded(items).join(sep),
                ParamValue::Object(pairs) => {
                    let kv = if explode { "=" } else { "," };
                    join_pairs(&encoded_pairs(pairs), kv, sep)
                }
            };
            format!(".{body}")
        }
        Style::Matrix => {
            let name = enc(name);
            if value.is_empty() {
                return format!(";{name}");
            }
            match value {
                ParamValue::Scalar(s) => format!(";{name}={}", enc(s)),
                ParamValue::List(items) if explode => encoded(items)
                    .iter()
                    .map(|i| format!(";{name}={i}"))
                    .collect(),
                ParamValue::List(items) => format!(";{name}={}", encoded(items).join(",")),
                ParamValue::Object(pairs) if explode => encoded_pairs(pairs)
                    .iter()
                    .map(|(k, v)| format!(";{k}={v}"))
                    .collect(),
                ParamValue::Object(pairs) => {
                    format!(";{name}={}", join_pairs(&encoded_pairs(pairs), ",", ","))
                }
            }
        }
        _ => match value {
            ParamValue::Scalar(s) => enc(s),
            ParamValue::List(items) => encoded(items).join(","),
            ParamValue::Object(pairs) => {
                let kv = if explode { "=" } else { "," };
                join_pairs(&encoded_pairs(pairs), kv, ",")
            }
        },
    }
}

/// Serializes a header parameter (`simple` style, the only one headers have). Header values are
/// not percent-encoded; a value with control characters is rejected later, when the header is
/// built.
pub fn header_value(value: &ParamValue, explode: bool) -> String {
    match value {
        ParamValue::Scalar(s) => s.clone(),
        ParamValue::List(items) => items.join(","),
        ParamValue::Object(pairs) => join_pairs(pairs, if explode { "=" } else { "," }, ","),
    }
}

/// Splits a received, already percent-decoded, non-exploded array value into its items.
///
/// Equivalent to [`split_list_with_explode`] with `explode = false`.
pub fn split_list(raw: &str, style: Style) -> Vec<String> {
    split_list_with_explode(raw, style, false)
}

/// Splits a received, already percent-decoded array value into its items.
///
/// `form`, `simple` and `deepObject` split on `,`, `spaceDelimited` on spaces, `pipeDelimited` on
/// `|`. `label` drops its leading `.` and splits on `,` (or `.` when exploded). `matrix` drops the
/// leading `;name=` (every `;name=` when exploded). An empty value is an empty array. Exploded
/// `form` arrays arrive as repeated query keys instead: collect them, don't split.
pub fn split_list_with_explode(raw: &str, style: Style, explode: bool) -> Vec<String> {
    let split = |s: &str, sep: char| -> Vec<String> {
        if s.is_empty() {
            Vec::new()
        } else {
            s.split(sep).map(str::to_owned).collect()
        }
    };
    match style {
        Style::Form | Style::Simple | Style::DeepObject => split(raw, ','),
        Style::SpaceDelimited => split(raw, ' '),
        Style::PipeDelimited => split(raw, '|'),
        Style::Label => {
            let rest = raw.strip_prefix('.').unwrap_or(raw);
            split(rest, if explode { '.' } else { ',' })
        }
        Style::Matrix => {
            let rest = raw.strip_prefix(';').unwrap_or(raw);
            if explode {
                rest.split(';')
                    .filter_map(|item| item.split_once('=').map(|(_, v)| v.to_owned()))
                    .collect()
            } else {
                match rest.split_once('=') {
                    Some((_, values)) => split(values, ','),
                    None => Vec::new(),
                }
            }
        }
    }
}

/// Collects a `deepObject` parameter's properties from decoded query pairs: every `name[key]=v`,
/// in the order received. Keys nested deeper (`name[a][b]`) are not part of the style and are
/// skipped.
pub fn deep_object(pairs: &[(String, String)], name: &str) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix(name)?.strip_prefix('[')?.strip_suffix(']')?;
            (!key.contains('[') && !key.contains(']')).then(|| (key.to_owned(), v.clone()))
        })
        .collect()
}

/// Rebuilds an object from a split list: `[k1, v1, k2, v2]` when not exploded, `[k1=v1, k2=v2]`
/// when exploded. `None` when the items do not pair up.
pub fn object_from_list(items: &[String], explode: bool) -> Option<Vec<(String, String)>> {
    if explode {
        items
            .iter()
            .map(|i| i.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect()
    } else if items.len() % 2 == 0 {
        Some(
            items
                .chunks(2)
                .map(|c| (c[0].clone(), c[1].clone()))
                .collect(),
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> ParamValue {
        ParamValue::Scalar(String::new())
    }
    fn string() -> ParamValue {
        "blue".to_param()
    }
    fn array() -> ParamValue {
        vec!["blue", "black", "brown"].to_param()
    }
    fn object() -> ParamValue {
        serde_json::json!({"R": 100, "G": 200, "B": 150}).to_param()
    }

    /// A query rendering as the spec's table writes it: pairs joined by `&`, not encoded.
    fn q(value: &ParamValue, style: Style, explode: bool) -> String {
        join_pairs(&query_pairs("color", value, style, explode), "=", "&")
    }

    /// One row of the OpenAPI style examples table: style, explode, and the columns empty,
    /// string, array, object. `None` is the table's "n/a".
    type Row = (Style, bool, [Option<&'static str>; 4]);

    #[rustfmt::skip]
    const PATH_ROWS: &[Row] = &[
        (Style::Matrix, false, [Some(";color"), Some(";color=blue"), Some(";color=blue,black,brown"), Some(";color=R,100,G,200,B,150")]),
        (Style::Matrix, true, [Some(";color"), Some(";color=blue"), Some(";color=blue;color=black;color=brown"), Some(";R=100;G=200;B=150")]),
        (Style::Label, false, [Some("."), Some(".blue"), Some(".blue,black,brown"), Some(".R,100,G,200,B,150")]),
        (Style::Label, true, [Some("."), Some(".blue"), Some(".blue.black.brown"), Some(".R=100.G=200.B=150")]),
        (Style::Simple, false, [None, Some("blue"), Some("blue,black,brown"), Some("R,100,G,200,B,150")]),
        (Style::Simple, true, [None, Some("blue"), Some("blue,black,brown"), Some("R=100,G=200,B=150")]),
    ];

    #[rustfmt::skip]
    const QUERY_ROWS: &[Row] = &[
        (Style::Form, false, [Some("color="), Some("color=blue"), Some("color=blue,black,brown"), Some("color=R,100,G,200,B,150")]),
        (Style::Form, true, [Some("color="), Some("color=blue"), Some("color=blue&color=black&color=brown"), Some("R=100&G=200&B=150")]),
        (Style::SpaceDelimited, false, [None, None, Some("color=blue black brown"), Some("color=R 100 G 200 B 150")]),
        (Style::PipeDelimited, false, [None, None, Some("color=blue|black|brown"), Some("color=R|100|G|200|B|150")]),
        (Style::DeepObject, true, [None, None, None, Some("color[R]=100&color[G]=200&color[B]=150")]),
    ];

    /// Every cell of the table (with the label row as corrected in OpenAPI 3.0.4, see the module
    /// documentation).
    #[test]
    fn openapi_style_table() {
        let (path_rows, query_rows) = (PATH_ROWS, QUERY_ROWS);
        let values = [empty(), string(), array(), object()];
        for (style, explode, expected) in path_rows {
            for (value, want) in values.iter().zip(expected) {
                if let Some(want) = want {
                    let got = path_segment_named("color", value, *style, *explode);
                    assert_eq!(&got, want, "{style:?} explode={explode} {value:?}");
                }
            }
        }
        for (style, explode, expected) in query_rows {
            for (value, want) in values.iter().zip(expected) {
                if let Some(want) = want {
                    assert_eq!(
                        &q(value, *style, *explode),
                        want,
                        "{style:?} explode={explode} {value:?}"
                    );
                }
            }
        }
        // The header column: simple style.
        assert_eq!(header_value(&array(), false), "blue,black,brown");
        assert_eq!(header_value(&object(), false), "R,100,G,200,B,150");
        assert_eq!(header_value(&object(), true), "R=100,G=200,B=150");
    }

    #[test]
    fn build_query_encodes_delimiters_and_spaces() {
        let pairs = query_pairs("color", &array(), Style::SpaceDelimited, false);
        assert_eq!(build_query(&pairs), "color=blue%20black%20brown");
        let pairs = query_pairs("color", &array(), Style::Form, false);
        assert_eq!(build_query(&pairs), "color=blue%2Cblack%2Cbrown");
        let pairs = query_pairs("color", &object(), Style::DeepObject, true);
        assert_eq!(
            build_query(&pairs),
            "color%5BR%5D=100&color%5BG%5D=200&color%5BB%5D=150"
        );
        // ZStack query conditions carry operators and wildcards that must survive.
        let pairs = vec![
            ("q".to_owned(), "name~=%web&db%".to_owned()),
            ("a b".into(), "x+y=1".into()),
        ];
        assert_eq!(
            build_query(&pairs),
            "q=name%7E%3D%25web%26db%25&a%20b=x%2By%3D1"
        );
        assert_eq!(build_query(&[]), "");
    }

    #[test]
    fn path_segments_encode_values_but_not_structure() {
        let ids = vec!["a/b", "c,d", "é"].to_param();
        assert_eq!(
            path_segment(&ids, Style::Simple, false),
            "a%2Fb,c%2Cd,%C3%A9"
        );
        assert_eq!(
            path_segment(&"../x?y#z".to_param(), Style::Simple, false),
            "..%2Fx%3Fy%23z"
        );
        assert_eq!(
            path_segment_named("a b", &1.to_param(), Style::Matrix, false),
            ";a%20b=1"
        );
        assert_eq!(
            path_segment(&"v1.2".to_param(), Style::Label, true),
            ".v1.2"
        );
    }

    #[test]
    fn empty_collections_in_queries() {
        let none = ParamValue::List(vec![]);
        assert!(query_pairs("ids", &none, Style::Form, true).is_empty());
        assert_eq!(q(&none, Style::Form, false), "color=");
        assert_eq!(q(&ParamValue::Object(vec![]), Style::DeepObject, true), "");
        // An array given a deepObject style has no defined form; it is sent like exploded form.
        assert_eq!(
            q(&array(), Style::DeepObject, true),
            "color=blue&color=black&color=brown"
        );
    }

    #[test]
    fn to_param_conversions() {
        assert_eq!(true.to_param(), ParamValue::Scalar("true".into()));
        assert_eq!((-3i64).to_param(), ParamValue::Scalar("-3".into()));
        assert_eq!(1.5f64.to_param(), ParamValue::Scalar("1.5".into()));
        assert_eq!(String::from("x").to_param(), ParamValue::Scalar("x".into()));
        assert_eq!((&&"x").to_param(), ParamValue::Scalar("x".into()));
        assert_eq!(
            [1u8, 2].to_param(),
            ParamValue::List(vec!["1".into(), "2".into()])
        );
        assert_eq!(
            serde_json::json!(["a", 1, null, true]).to_param(),
            ParamValue::List(vec!["a".into(), "1".into(), "".into(), "true".into()])
        );
        assert_eq!(
            serde_json::json!("s").to_param(),
            ParamValue::Scalar("s".into())
        );
        assert_eq!(
            serde_json::json!({"k": {"n": 1}}).to_param(),
            ParamValue::Object(vec![("k".into(), r#"{"n":1}"#.into())])
        );
        assert_eq!(
            crate::Secret::new("pw").to_param(),
            ParamValue::Scalar("pw".into())
        );
    }

    #[test]
    fn server_side_splitting_inverts_the_table() {
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let bbb = items(&["blue", "black", "brown"]);
        let cases: &[(&str, Style, bool)] = &[
            ("blue,black,brown", Style::Form, false),
            ("blue,black,brown", Style::Simple, false),
            ("blue,black,brown", Style::Simple, true),
            ("blue black brown", Style::SpaceDelimited, false),
            ("blue|black|brown", Style::PipeDelimited, false),
            (".blue,black,brown", Style::Label, false),
            (".blue.black.brown", Style::Label, true),
            (";color=blue,black,brown", Style::Matrix, false),
            (";color=blue;color=black;color=brown", Style::Matrix, true),
        ];
        for (raw, style, explode) in cases {
            assert_eq!(
                split_list_with_explode(raw, *style, *explode),
                bbb,
                "{raw} {style:?}"
            );
        }
        assert_eq!(split_list("a,b", Style::Form), items(&["a", "b"]));
        assert!(split_list("", Style::Form).is_empty());
        assert!(split_list(".", Style::Label).is_empty());
        assert!(split_list(";color", Style::Matrix).is_empty());
        assert_eq!(split_list("a,,b", Style::Simple), items(&["a", "", "b"]));
    }

    #[test]
    fn deep_object_and_object_rebuilding() {
        let pairs: Vec<(String, String)> = [
            ("color[R]", "100"),
            ("other[R]", "1"),
            ("color[G]", "200"),
            ("color[a][b]", "x"),
            ("colorx[B]", "9"),
            ("color[B]", "150"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let want: Vec<(String, String)> = [("R", "100"), ("G", "200"), ("B", "150")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(deep_object(&pairs, "color"), want);
        let flat = split_list("R,100,G,200,B,150", Style::Simple);
        assert_eq!(object_from_list(&flat, false), Some(want.clone()));
        let exploded = split_list("R=100,G=200,B=150", Style::Simple);
        assert_eq!(object_from_list(&exploded, true), Some(want));
        assert_eq!(
            object_from_list(&split_list("R,100,G", Style::Simple), false),
            None
        );
        assert_eq!(
            object_from_list(&split_list("R", Style::Simple), true),
            None
        );
    }
}
