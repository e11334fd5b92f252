//! ZStack's query language, over inventories held as JSON objects.
//!
//! `q=field<op>value` conditions (all must hold) with the operators `=`, `!=`, `>`, `<`, `>=`,
//! `<=`, `?=` (in), `!?=` (not in), `~=` (like, `%` and `_` wildcards), `!~=` (not like),
//! `field is null` and `field not null`; fields of associated resources are written with a dot
//! (`zone.name=zone1`) and match when any associated row matches, as the SQL join ZStack runs
//! does. Then `sort`, `start`, `limit`, `count`, `replyWithCount` and `fields`.
//!
//! A condition without an operator is the REST layer's plain-text 400; an unknown field, a
//! value that does not fit the field's type, or an unknown `sort`/`fields` name is the API's
//! `SYS.1007`.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// The operators, longest first: the order in which a condition's text is matched.
const OPERATORS: &[(&str, Op)] = &[
    ("!?=", Op::NotIn),
    ("!~=", Op::NotLike),
    ("!=", Op::Ne),
    (">=", Op::Ge),
    ("<=", Op::Le),
    ("?=", Op::In),
    ("~=", Op::Like),
    ("=", Op::Eq),
    (">", Op::Gt),
    ("<", Op::Lt),
];

/// An operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `<`
    Lt,
    /// `>=`
    Ge,
    /// `<=`
    Le,
    /// `?=`: one of comma-separated values.
    In,
    /// `!?=`
    NotIn,
    /// `~=`: SQL LIKE.
    Like,
    /// `!~=`
    NotLike,
    /// `is null`
    IsNull,
    /// `not null`
    NotNull,
}

/// A field: the inventory's own, or one of an associated resource (`zone.name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A field of the inventory.
    Own(String),
    /// A field of an associated resource: (resource, field).
    Related(String, String),
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Own(name) => f.write_str(name),
            Field::Related(table, name) => write!(f, "{table}.{name}"),
        }
    }
}

/// One condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The field.
    pub field: Field,
    /// The operator.
    pub op: Op,
    /// The value as written (empty for `is null` / `not null`).
    pub value: String,
}

/// How a field's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Strings.
    Text,
    /// Numbers.
    Number,
    /// Timestamps, written as the appliance writes dates.
    Date,
    /// Lists of objects (e.g. Ceph monitors): returned by `fields`, not comparable.
    Object,
}

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// The REST layer's plain-text 400.
    RestLayer(String),
    /// The API's `SYS.1007`, with details.
    InvalidArgument(String),
}

/// What the query runs over: which fields exist and what values a row has for them.
pub trait Queryable {
    /// The kind of `field`, or `None` if it does not exist.
    fn kind(&self, field: &Field) -> Option<Kind>;
    /// The values of `field` in `row`: one for a scalar, several for a list or associated rows,
    /// none when null or absent.
    fn values(&self, row: &Map<String, Value>, field: &Field) -> Vec<Value>;
    /// Parses a date as the appliance writes it.
    fn parse_date(&self, text: &str) -> Option<i64>;
}

/// A query's parameters, as the request carries them.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// The `q` conditions.
    pub conditions: Vec<String>,
    /// `limit` (default 1000).
    pub limit: Option<i32>,
    /// `start` (default 0).
    pub start: Option<i32>,
    /// `count`.
    pub count: bool,
    /// `replyWithCount`.
    pub reply_with_count: bool,
    /// `sort`.
    pub sort: Option<String>,
    /// `fields`.
    pub fields: Option<Vec<String>>,
}

/// What a query found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The page of inventories, projected; `None` with `count=true`.
    pub inventories: Option<Vec<Map<String, Value>>>,
    /// The number of matches, with `count` or `replyWithCount`.
    pub total: Option<i64>,
}

/// Parses one `q` value.
pub fn parse_condition(text: &str) -> Result<Condition, QueryError> {
    let text = text.trim();
    for (suffix, op) in [(" is null", Op::IsNull), (" not null", Op::NotNull)] {
        if let Some(field) = text.strip_suffix(suffix) {
            return Ok(Condition {
                field: parse_field(field.trim())?,
                op,
                value: String::new(),
            });
        }
    }
    let name_len = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(text.len());
    let (name, rest) = text.split_at(name_len);
    let Some((symbol, op)) = OPERATORS.iter().find(|(s, _)| rest.starts_with(s)) else {
        return Err(QueryError::RestLayer(format!(
            "Invalid query parameter. The '{text}' in the parameter[q] doesn't contain any query \
             operator. Valid query operators are [[!=, >=, <=, !?=, !~=, ~=, ?=, =, >, <, is null, \
             not null]]"
        )));
    };
    Ok(Condition {
        field: parse_field(name)?,
        op: *op,
        value: rest[symbol.len()..].to_string(),
    })
}

fn parse_field(name: &str) -> Result<Field, QueryError> {
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match name.split_once('.') {
        None if valid(name) => Ok(Field::Own(name.to_string())),
        Some((table, field)) if valid(table) && valid(field) => {
            Ok(Field::Related(table.to_string(), field.to_string()))
        }
        _ => Err(QueryError::InvalidArgument(format!(
            "invalid query field[{name}]"
        ))),
    }
}

/// A value of the condition, typed for the field.
#[derive(Debug, Clone, PartialEq)]
enum Typed {
    Text(String),
    Number(f64),
    Date(i64),
}

fn typed(
    kind: Kind,
    text: &str,
    schema: &dyn Queryable,
    field: &Field,
) -> Result<Typed, QueryError> {
    match kind {
        Kind::Text => Ok(Typed::Text(text.to_string())),
        Kind::Number => text.trim().parse::<f64>().map(Typed::Number).map_err(|_| {
            QueryError::InvalidArgument(format!(
                "the value[{text}] of field[{field}] is not a number"
            ))
        }),
        Kind::Date => schema.parse_date(text).map(Typed::Date).ok_or_else(|| {
            QueryError::InvalidArgument(format!(
                "the value[{text}] of field[{field}] is not a date"
            ))
        }),
        Kind::Object => Err(QueryError::InvalidArgument(format!(
            "field[{field}] cannot be queried; query one of its fields"
        ))),
    }
}

fn typed_value(kind: Kind, value: &Value, schema: &dyn Queryable) -> Option<Typed> {
    match (kind, value) {
        (_, Value::Null) => None,
        (Kind::Number, Value::Number(n)) => n.as_f64().map(Typed::Number),
        (Kind::Date, Value::String(s)) => schema.parse_date(s).map(Typed::Date),
        (Kind::Text, Value::String(s)) => Some(Typed::Text(s.clone())),
        (Kind::Text, other) => Some(Typed::Text(other.to_string())),
        _ => None,
    }
}

fn compare(a: &Typed, b: &Typed) -> Option<Ordering> {
    match (a, b) {
        (Typed::Text(a), Typed::Text(b)) => Some(a.cmp(b)),
        (Typed::Number(a), Typed::Number(b)) => a.partial_cmp(b),
        (Typed::Date(a), Typed::Date(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn as_text(value: &Typed) -> String {
    match value {
        Typed::Text(s) => s.clone(),
        Typed::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
        Typed::Number(n) => n.to_string(),
        Typed::Date(d) => d.to_string(),
    }
}

/// SQL LIKE: `%` any run of characters, `_` one character, `\` escapes.
pub fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // Iterative matcher with backtracking on the last `%`.
    let (mut ti, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let (token, width) = match p.get(pi) {
            Some('\\') if pi + 1 < p.len() => (Some(Token::Lit(p[pi + 1])), 2),
            Some('%') => (Some(Token::Any), 1),
            Some('_') => (Some(Token::One), 1),
            Some(c) => (Some(Token::Lit(*c)), 1),
            None => (None, 0),
        };
        match token {
            Some(Token::Any) => {
                star = Some((pi + 1, ti));
                pi += 1;
                continue;
            }
            Some(Token::One) => {
                ti += 1;
                pi += width;
                continue;
            }
            Some(Token::Lit(c)) if c == t[ti] => {
                ti += 1;
                pi += width;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, st)) => {
                pi = sp;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '%')
}

enum Token {
    Any,
    One,
    Lit(char),
}

struct Compiled {
    field: Field,
    kind: Kind,
    op: Op,
    operands: Vec<Typed>,
    pattern: String,
}

fn compile(condition: Condition, schema: &dyn Queryable) -> Result<Compiled, QueryError> {
    let kind = schema.kind(&condition.field).ok_or_else(|| {
        QueryError::InvalidArgument(format!(
            "the field[{}] is not a queryable field of the backup storage",
            condition.field
        ))
    })?;
    let operands = match condition.op {
        Op::IsNull | Op::NotNull | Op::Like | Op::NotLike => Vec::new(),
        Op::In | Op::NotIn => condition
            .value
            .split(',')
            .map(|v| typed(kind, v, schema, &condition.field))
            .collect::<Result<_, _>>()?,
        _ => vec![typed(kind, &condition.value, schema, &condition.field)?],
    };
    if kind == Kind::Object && !matches!(condition.op, Op::IsNull | Op::NotNull) {
        return Err(QueryError::InvalidArgument(format!(
            "field[{}] cannot be queried; query one of its fields",
            condition.field
        )));
    }
    Ok(Compiled {
        field: condition.field,
        kind,
        op: condition.op,
        operands,
        pattern: condition.value,
    })
}

fn matches(c: &Compiled, row: &Map<String, Value>, schema: &dyn Queryable) -> bool {
    let raw = schema.values(row, &c.field);
    let present: Vec<&Value> = raw.iter().filter(|v| !v.is_null()).collect();
    match c.op {
        Op::IsNull => return present.is_empty(),
        Op::NotNull => return !present.is_empty(),
        _ => {}
    }
    present.iter().any(|value| {
        let Some(value) = typed_value(c.kind, value, schema) else {
            return false;
        };
        let ord = |operand: &Typed| compare(&value, operand);
        match c.op {
            Op::Eq => ord(&c.operands[0]) == Some(Ordering::Equal),
            Op::Ne => ord(&c.operands[0]).is_some_and(|o| o != Ordering::Equal),
            Op::Gt => ord(&c.operands[0]) == Some(Ordering::Greater),
            Op::Lt => ord(&c.operands[0]) == Some(Ordering::Less),
            Op::Ge => ord(&c.operands[0]).is_some_and(|o| o != Ordering::Less),
            Op::Le => ord(&c.operands[0]).is_some_and(|o| o != Ordering::Greater),
            Op::In => c.operands.iter().any(|o| ord(o) == Some(Ordering::Equal)),
            Op::NotIn => c.operands.iter().all(|o| ord(o) != Some(Ordering::Equal)),
            Op::Like => like(&as_text(&value), &c.pattern),
            Op::NotLike => !like(&as_text(&value), &c.pattern),
            Op::IsNull | Op::NotNull => false,
        }
    })
}

/// Runs `query` over `rows` (in their stored order).
pub fn run(
    query: &Query,
    rows: Vec<Map<String, Value>>,
    schema: &dyn Queryable,
) -> Result<Found, QueryError> {
    let selected = select(query, rows, |row| row, schema)?;
    Ok(Found {
        inventories: selected.page.map(|page| {
            page.into_iter()
                .map(|row| match &query.fields {
                    None => row,
                    Some(fields) => project(&row, fields),
                })
                .collect()
        }),
        total: selected.total,
    })
}

/// What [`select`] found: the rows of the page, as given, not projected.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected<R> {
    /// The page of rows; `None` with `count=true`.
    pub page: Option<Vec<R>>,
    /// The number of matches, with `count` or `replyWithCount`.
    pub total: Option<i64>,
}

/// [`run`] without the projection on `fields`, over rows of any type that `inventory` reads
/// (references to the stored rows, so nothing is copied): which rows, in which order.
pub fn select<R>(
    query: &Query,
    rows: Vec<R>,
    inventory: impl Fn(&R) -> &Map<String, Value>,
    schema: &dyn Queryable,
) -> Result<Selected<R>, QueryError> {
    let compiled = query
        .conditions
        .iter()
        .map(|text| parse_condition(text).and_then(|c| compile(c, schema)))
        .collect::<Result<Vec<_>, _>>()?;
    let sort = match &query.sort {
        None => None,
        Some(text) => {
            let (descending, name) = match text.strip_prefix('-') {
                Some(name) => (true, name),
                None => (false, text.strip_prefix('+').unwrap_or(text)),
            };
            let field = Field::Own(name.to_string());
            match schema.kind(&field) {
                Some(kind) if kind != Kind::Object => Some((field, kind, descending)),
                _ => {
                    return Err(QueryError::InvalidArgument(format!(
                        "cannot sort by the field[{name}]"
                    )))
                }
            }
        }
    };
    if let Some(fields) = &query.fields {
        for name in fields {
            if schema.kind(&Field::Own(name.clone())).is_none() {
                return Err(QueryError::InvalidArgument(format!(
                    "the field[{name}] in the parameter[fields] is not a field of the backup storage"
                )));
            }
        }
    }
    let mut found: Vec<R> = rows
        .into_iter()
        .filter(|row| compiled.iter().all(|c| matches(c, inventory(row), schema)))
        .collect();
    let total = found.len() as i64;
    if query.count {
        return Ok(Selected {
            page: None,
            total: Some(total),
        });
    }
    if let Some((field, kind, descending)) = sort {
        let key = |row: &Map<String, Value>| {
            schema
                .values(row, &field)
                .first()
                .and_then(|v| typed_value(kind, v, schema))
        };
        found.sort_by(|a, b| {
            // Nulls first in ascending order, as MySQL sorts them.
            let order = match (key(inventory(a)), key(inventory(b))) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => compare(&x, &y).unwrap_or(Ordering::Equal),
            };
            if descending {
                order.reverse()
            } else {
                order
            }
        });
    }
    let start = query.start.unwrap_or(0).max(0) as usize;
    let limit = query.limit.unwrap_or(1000).max(0) as usize;
    let page = found.into_iter().skip(start).take(limit).collect();
    Ok(Selected {
        page: Some(page),
        total: query.reply_with_count.then_some(total),
    })
}

/// A row with only the `fields` asked for (and `type`, which says what the row is).
pub fn project(row: &Map<String, Value>, fields: &[String]) -> Map<String, Value> {
    row.iter()
        .filter(|(k, _)| *k == "type" || fields.iter().any(|f| f == *k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_parse_with_the_longest_operator() {
        let check = |text: &str, field: Field, op: Op, value: &str| {
            assert_eq!(
                parse_condition(text).unwrap(),
                Condition {
                    field,
                    op,
                    value: value.into()
                },
                "{text}"
            );
        };
        let own = |s: &str| Field::Own(s.into());
        check("name=a=b", own("name"), Op::Eq, "a=b");
        check("name!=x", own("name"), Op::Ne, "x");
        check("size>=5", own("size"), Op::Ge, "5");
        check("size<=5", own("size"), Op::Le, "5");
        check("size>5", own("size"), Op::Gt, "5");
        check("size<5", own("size"), Op::Lt, "5");
        check("uuid?=a,b", own("uuid"), Op::In, "a,b");
        check("uuid!?=a,b", own("uuid"), Op::NotIn, "a,b");
        check("name~=im%", own("name"), Op::Like, "im%");
        check("name!~=im%", own("name"), Op::NotLike, "im%");
        check("description is null", own("description"), Op::IsNull, "");
        check("description not null", own("description"), Op::NotNull, "");
        check(
            "zone.name=z1",
            Field::Related("zone".into(), "name".into()),
            Op::Eq,
            "z1",
        );
        check("name=", own("name"), Op::Eq, "");
        assert!(matches!(
            parse_condition("uuid"),
            Err(QueryError::RestLayer(m)) if m.contains("The 'uuid' in the parameter[q]")
        ));
        assert!(matches!(
            parse_condition("=x"),
            Err(QueryError::InvalidArgument(_))
        ));
        assert!(matches!(
            parse_condition("a.b.c=x"),
            Err(QueryError::InvalidArgument(_))
        ));
    }

    #[test]
    fn like_has_sql_wildcards() {
        for (text, pattern, expected) in [
            ("image-store", "image%", true),
            ("image-store", "%store", true),
            ("image-store", "%ge-st%", true),
            ("image-store", "image_store", true),
            ("image-store", "image", false),
            ("image-store", "%", true),
            ("", "%", true),
            ("", "_", false),
            ("a%b", "a\\%b", true),
            ("axb", "a\\%b", false),
            ("abcabc", "%abc", true),
            ("aXbYc", "a%b%c", true),
        ] {
            assert_eq!(like(text, pattern), expected, "{text} ~ {pattern}");
        }
    }

    struct Rows;

    impl Queryable for Rows {
        fn kind(&self, field: &Field) -> Option<Kind> {
            match field {
                Field::Own(name) => match name.as_str() {
                    "name" | "type" | "tags" => Some(Kind::Text),
                    "size" => Some(Kind::Number),
                    "date" => Some(Kind::Date),
                    _ => None,
                },
                Field::Related(t, f) if t == "zone" && f == "name" => Some(Kind::Text),
                Field::Related(..) => None,
            }
        }
        fn values(&self, row: &Map<String, Value>, field: &Field) -> Vec<Value> {
            match field {
                Field::Own(name) => match row.get(name) {
                    Some(Value::Array(items)) => items.clone(),
                    Some(v) => vec![v.clone()],
                    None => vec![],
                },
                Field::Related(..) => row
                    .get("zones")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            }
        }
        fn parse_date(&self, text: &str) -> Option<i64> {
            text.parse().ok()
        }
    }

    fn rows() -> Vec<Map<String, Value>> {
        [
            json!({"type": "T", "name": "a", "size": 10, "date": "3", "zones": ["z1"]}),
            json!({"type": "T", "name": "b", "size": 2, "date": "1", "zones": ["z1", "z2"]}),
            json!({"type": "T", "name": "c", "date": "2", "zones": []}),
        ]
        .into_iter()
        .map(|v| v.as_object().unwrap().clone())
        .collect()
    }

    fn names(query: Query) -> Vec<String> {
        run(&query, rows(), &Rows)
            .unwrap()
            .inventories
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap_or("-").to_string())
            .collect()
    }

    fn q(conditions: &[&str]) -> Query {
        Query {
            conditions: conditions.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn every_operator_filters() {
        for (conditions, expected) in [
            (vec!["name=a"], vec!["a"]),
            (vec!["name!=a"], vec!["b", "c"]),
            (vec!["size>2"], vec!["a"]),
            (vec!["size>=2"], vec!["a", "b"]),
            (vec!["size<10"], vec!["b"]),
            (vec!["size<=10"], vec!["a", "b"]),
            (vec!["name?=a,c"], vec!["a", "c"]),
            (vec!["name!?=a,c"], vec!["b"]),
            (vec!["name~=%b%"], vec!["b"]),
            (vec!["name!~=%b%"], vec!["a", "c"]),
            (vec!["size is null"], vec!["c"]),
            (vec!["size not null"], vec!["a", "b"]),
            (vec!["size not null", "name!=a"], vec!["b"]),
            (vec!["date>1"], vec!["a", "c"]),
            (vec!["zone.name=z2"], vec!["b"]),
            (vec!["zone.name is null"], vec!["c"]),
            (vec!["size~=1%"], vec!["a"]),
        ] {
            assert_eq!(names(q(&conditions)), expected, "{conditions:?}");
        }
    }

    #[test]
    fn paging_sorting_counting_and_fields() {
        let sorted = |sort: &str| {
            names(Query {
                sort: Some(sort.into()),
                ..Default::default()
            })
        };
        assert_eq!(sorted("size"), ["c", "b", "a"]);
        assert_eq!(sorted("+size"), ["c", "b", "a"]);
        assert_eq!(sorted("-size"), ["a", "b", "c"]);
        assert_eq!(sorted("-date"), ["a", "c", "b"]);
        let page = Query {
            start: Some(1),
            limit: Some(1),
            reply_with_count: true,
            ..Default::default()
        };
        let found = run(&page, rows(), &Rows).unwrap();
        assert_eq!(found.total, Some(3));
        assert_eq!(found.inventories.unwrap()[0]["name"], "b");
        let count = Query {
            count: true,
            ..q(&["size not null"])
        };
        assert_eq!(
            run(&count, rows(), &Rows).unwrap(),
            Found {
                inventories: None,
                total: Some(2)
            }
        );
        let projected = Query {
            fields: Some(vec!["name".into()]),
            limit: Some(1),
            ..Default::default()
        };
        let found = run(&projected, rows(), &Rows).unwrap().inventories.unwrap();
        assert_eq!(
            Value::Object(found[0].clone()),
            json!({"type": "T", "name": "a"})
        );
        assert!(names(Query {
            limit: Some(0),
            ..Default::default()
        })
        .is_empty());
    }

    #[test]
    fn invalid_arguments_are_refused() {
        for query in [
            q(&["colour=red"]),
            q(&["zone.colour=red"]),
            q(&["size>big"]),
            q(&["date>yesterday"]),
            Query {
                sort: Some("colour".into()),
                ..Default::default()
            },
            Query {
                fields: Some(vec!["colour".into()]),
                ..Default::default()
            },
        ] {
            assert!(
                matches!(
                    run(&query, rows(), &Rows),
                    Err(QueryError::InvalidArgument(_))
                ),
                "{query:?}"
            );
        }
    }
}
