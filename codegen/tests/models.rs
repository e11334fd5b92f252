//! How the generated models behave on the wire. The types come from the fixture crate generated from
//! `codegen/tests/specs/schema-constructs.yaml`; every test states a promise the generator makes about
//! one schema construct.

use fixture_schema_constructs::types::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// Deserializes `value` as `T`, checks it serializes back to the same JSON, and returns it.
fn round_trip<T: Serialize + DeserializeOwned>(value: Value) -> T {
    let parsed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{value} does not deserialize: {e}"));
    assert_eq!(serde_json::to_value(&parsed).unwrap(), value, "round trip");
    parsed
}

#[test]
fn unknown_enum_value_round_trips_through_unknown() {
    let color: Color = round_trip(json!("purple"));
    assert_eq!(color, Color::Unknown("purple".into()));
    assert_eq!(color.to_string(), "purple");

    let listed: Color = round_trip(json!("dark-blue"));
    assert_eq!(listed, Color::DarkBlue);
    // A listed value spelled `Unknown` gets another variant name, not the catch-all.
    assert_eq!(round_trip::<Color>(json!("Unknown")), Color::Unknown2);
    assert_eq!(round_trip::<Color>(json!("8bit")), Color::V8bit);
    assert_eq!("type".parse::<Color>().unwrap(), Color::Type);

    // Inside a struct too.
    let inventory: Inventory = round_trip(json!({"status": "archived"}));
    assert_eq!(
        inventory.status,
        Some(InventoryStatus::Unknown("archived".into()))
    );
}

#[test]
fn optional_nullable_distinguishes_absent_null_and_value() {
    let base = json!({"required": "r", "requiredNullable": null});
    let absent: Nullability = round_trip(base.clone());
    assert_eq!(absent.optional_nullable, None);
    assert_eq!(absent.required_nullable, None);

    let mut with_null = base.clone();
    with_null["optionalNullable"] = Value::Null;
    with_null["optionalNullableRef"] = Value::Null;
    with_null["optionalNullableObject"] = Value::Null;
    let null: Nullability = round_trip(with_null);
    assert_eq!(null.optional_nullable, Some(None));
    assert_eq!(null.optional_nullable_ref, Some(None));
    assert_eq!(null.optional_nullable_object, Some(None));

    let mut with_values = base;
    with_values["requiredNullable"] = json!("present");
    with_values["optionalNullable"] = json!("x");
    with_values["optionalNullableRef"] = json!(3);
    with_values["optionalNullableObject"] = json!({"width": 1, "height": 2});
    let value: Nullability = round_trip(with_values);
    assert_eq!(value.required_nullable.as_deref(), Some("present"));
    assert_eq!(value.optional_nullable, Some(Some("x".into())));
    assert_eq!(value.optional_nullable_ref, Some(Some(3)));
    assert_eq!(
        value.optional_nullable_object,
        Some(Some(Dimensions {
            width: 1,
            height: 2
        }))
    );

    // Optional but not nullable: absent is fine, null is not a value of the type.
    let optional: Nullability = round_trip(json!({"required": "r", "requiredNullable": null}));
    assert_eq!(optional.optional, None);
    // A required, non-nullable field must be there.
    assert!(serde_json::from_value::<Nullability>(json!({"requiredNullable": null})).is_err());
}

#[test]
fn discriminated_union_picks_variant_by_tag() {
    let cat: Pet = round_trip(json!({"petType": "cat", "name": "Tom", "lives": 9}));
    assert!(matches!(&cat, Pet::Cat(c) if c.name == "Tom" && c.lives == Some(9)));

    // Two mapping values select the same variant; each is kept as sent. The tag decides even when
    // another variant would fit the fields: a `dog` without `goodBoy` fits `Cat` too.
    let dog: Pet = round_trip(json!({"petType": "dog", "name": "Rex"}));
    assert!(matches!(&dog, Pet::Dog(d) if d.pet_type == "dog"));
    let puppy: Pet = round_trip(json!({"petType": "puppy", "name": "Bit", "goodBoy": true}));
    assert!(matches!(&puppy, Pet::Dog(d) if d.pet_type == "puppy"));

    // An unknown tag keeps the whole value.
    let unknown = json!({"petType": "parrot", "name": "Polly", "words": 12});
    let other: Pet = round_trip(unknown.clone());
    assert_eq!(other, Pet::Other(unknown));
    // An object without the tag is kept too, rather than failing the whole response.
    assert!(matches!(
        round_trip::<Pet>(json!({"name": "?"})),
        Pet::Other(_)
    ));
    // A known tag with a body that does not fit its variant is an error, not `Other`.
    assert!(serde_json::from_value::<Pet>(json!({"petType": "cat"})).is_err());
}

#[test]
fn discriminator_without_mapping_uses_schema_names() {
    let circle: Shape = round_trip(json!({"kind": "Circle", "radius": 1.5}));
    assert!(matches!(circle, Shape::Circle(c) if c.radius == 1.5));
    // `Square` does not list `kind`; the tag still goes back on the wire.
    let square: Shape = round_trip(json!({"kind": "Square", "side": 2.0}));
    assert_eq!(square, Shape::Square(Square { side: 2.0 }));
    assert_eq!(
        serde_json::to_value(Shape::Square(Square { side: 3.0 })).unwrap(),
        json!({"kind": "Square", "side": 3.0})
    );
}

#[test]
fn discriminator_over_inline_branches_reads_their_tags() {
    let email: Notification = round_trip(json!({"channel": "email", "address": "a@b.c"}));
    assert!(matches!(email, Notification::Email(e) if e.address == "a@b.c"));
    let sms: Notification = round_trip(json!({"channel": "sms", "number": "+1"}));
    assert!(matches!(sms, Notification::Sms(_)));
    assert!(matches!(
        round_trip::<Notification>(json!({"channel": "pigeon"})),
        Notification::Other(_)
    ));
}

#[test]
fn one_value_tag_properties_make_an_implicit_discriminator() {
    // Untagged, `range` would read as `range_to` (its fields are a subset) and lose `start`.
    let range: Range = round_trip(json!({"type": "range", "start": 1, "end": 5}));
    assert!(matches!(range, Range::Range(r) if r.start == 1 && r.end == 5));
    let to: Range = round_trip(json!({"type": "range_to", "end": 5}));
    assert!(matches!(to, Range::RangeTo(_)));
    let from: Range = round_trip(json!({"type": "range_from", "start": 1}));
    assert!(matches!(from, Range::RangeFrom(_)));
    assert!(matches!(
        round_trip::<Range>(json!({"type": "range_step", "step": 2})),
        Range::Other(_)
    ));
}

#[test]
fn one_of_string_enums_is_one_enum() {
    assert_eq!(round_trip::<PowerState>(json!("on")), PowerState::On);
    assert_eq!(round_trip::<PowerState>(json!("off")), PowerState::Off);
    assert_eq!(
        round_trip::<PowerState>(json!("hibernating")),
        PowerState::Hibernating
    );
    assert_eq!(
        round_trip::<PowerState>(json!("melting")),
        PowerState::Unknown("melting".into())
    );
}

#[test]
fn one_of_that_only_requires_properties_is_the_object() {
    let by_id: Selector = round_trip(json!({"id": 7}));
    assert_eq!(by_id.id, Some(7));
    let by_name: Selector = round_trip(json!({"owner": "o", "repo": "r"}));
    assert_eq!(
        (by_name.owner.as_deref(), by_name.repo.as_deref()),
        (Some("o"), Some("r"))
    );
}

#[test]
fn untagged_unions_take_the_first_branch_that_fits() {
    assert_eq!(round_trip::<IdOrName>(json!(7)), IdOrName::V0(7));
    assert_eq!(
        round_trip::<IdOrName>(json!("seven")),
        IdOrName::V1("seven".into())
    );
    assert!(matches!(
        round_trip::<DimensionsOrLabel>(json!({"width": 1, "height": 2})),
        DimensionsOrLabel::Dimensions(_)
    ));
    assert!(matches!(
        round_trip::<DimensionsOrLabel>(json!("large")),
        DimensionsOrLabel::V1(_)
    ));
    // `Base` fits every `Named`; `Named` is tried first, and the free-form object last.
    assert!(matches!(
        round_trip::<BaseOrNamed>(json!({"id": "1", "name": "n"})),
        BaseOrNamed::Named(_)
    ));
    assert!(matches!(
        round_trip::<BaseOrNamed>(json!({"id": "1"})),
        BaseOrNamed::Base(_)
    ));
    assert!(matches!(
        round_trip::<BaseOrNamed>(json!({"other": 1})),
        BaseOrNamed::V2(_)
    ));
}

#[test]
fn secret_fields_are_redacted_in_debug() {
    let credentials: Credentials = round_trip(json!({
        "username": "admin",
        "password": "hunter2",
        "apiKey": "key-123",
        "token": "tok-456",
        "vault": {"db": "pw-789"},
    }));
    for text in [format!("{credentials:?}"), format!("{credentials:#?}")] {
        assert!(text.contains("[redacted]"), "{text}");
        assert!(text.contains("admin"), "{text}");
        for secret in ["hunter2", "key-123", "tok-456", "pw-789"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
    // The wire still carries the real values.
    assert_eq!(credentials.password.expose(), "hunter2");
}

#[test]
fn recursive_types_build_and_round_trip() {
    let leaf = TreeNode {
        value: "leaf".into(),
        children: None,
        parent: None,
    };
    let tree = TreeNode {
        value: "root".into(),
        children: Some(vec![leaf.clone(), leaf]),
        parent: Some(Box::new(TreeNode {
            value: "above".into(),
            children: Some(Vec::new()),
            parent: None,
        })),
    };
    let json = serde_json::to_value(&tree).unwrap();
    assert_eq!(round_trip::<TreeNode>(json.clone()), tree);
    assert_eq!(json["parent"]["value"], "above");

    let employee = Employee {
        name: "Ada".into(),
        department: Some(Box::new(Department {
            title: "Engines".into(),
            head: Box::new(Employee {
                name: "Charles".into(),
                department: None,
            }),
        })),
    };
    let json = serde_json::to_value(&employee).unwrap();
    assert_eq!(json["department"]["head"]["name"], "Charles");
    assert_eq!(round_trip::<Employee>(json), employee);

    // 1 + (2 + 3), through the oneOf.
    let expr: Expr = round_trip(json!({
        "left": {"value": 1.0},
        "right": {"left": {"value": 2.0}, "right": {"value": 3.0}},
    }));
    fn eval(e: &Expr) -> f64 {
        match e {
            Expr::Literal(l) => l.value,
            Expr::Sum(s) => eval(&s.left) + eval(&s.right),
        }
    }
    assert_eq!(eval(&expr), 6.0);
}

#[test]
fn additional_properties_next_to_fields_round_trip() {
    let annotated: Annotated = round_trip(json!({"id": "a", "note": "n", "x": 1, "y": 2}));
    assert_eq!(annotated.id, "a");
    assert_eq!(annotated.note.as_deref(), Some("n"));
    assert_eq!(
        annotated
            .additional_properties
            .into_iter()
            .collect::<Vec<_>>(),
        vec![("x".to_string(), 1), ("y".to_string(), 2)]
    );
    // The other members must have the declared type.
    assert!(serde_json::from_value::<Annotated>(json!({"id": "a", "x": "one"})).is_err());

    // Alone, it is a map.
    let labels: Labels = round_trip(json!({"env": "prod", "tier": "web"}));
    assert_eq!(labels["env"], "prod");
    let free: FreeForm = round_trip(json!({"anything": [1, {"goes": true}]}));
    assert_eq!(free.len(), 1);
}

#[test]
fn all_of_merges_properties() {
    let named: Named = round_trip(json!({"id": "1", "name": "n"}));
    assert_eq!((named.id.as_str(), named.name.as_str()), ("1", "n"));
    let tagged: Tagged = round_trip(json!({
        "id": "1",
        "name": "n",
        "extra": true,
        "tags": ["a"],
        "created": "2024-01-01T00:00:00Z",
    }));
    assert!(tagged.extra);
    assert_eq!(tagged.tags, Some(vec!["a".to_string()]));
    // Required members of every branch are required in the merge.
    assert!(serde_json::from_value::<Tagged>(json!({"id": "1", "extra": true})).is_err());
}

#[test]
fn inline_objects_in_odd_places_get_types() {
    let inventory: Inventory = round_trip(json!({
        "lines": [{"sku": "A1", "quantity": 2}],
        "bins": {"north": {"capacity": 10}},
        "grid": [[{"x": 1}], []],
        "location": {"lat": 1.5, "lon": 2.5},
    }));
    assert_eq!(inventory.lines.as_ref().unwrap()[0].sku, "A1");
    assert_eq!(inventory.bins.as_ref().unwrap()["north"].capacity, Some(10));
    assert_eq!(inventory.grid.as_ref().unwrap()[0][0].x, Some(1));
    assert!(matches!(
        inventory.location,
        Some(InventoryLocation::V1(InventoryLocationV1 { lat, .. })) if lat == 1.5
    ));
    let shelf: Inventory = round_trip(json!({"location": {"shelf": "B2"}}));
    assert!(matches!(shelf.location, Some(InventoryLocation::Shelf(_))));
}

#[test]
fn integer_and_number_formats_have_their_widths() {
    let numbers: Numbers = round_trip(json!({
        "small": 2147483647,
        "big": 9007199254740993i64,
        "single": 1.5,
        "double": 0.1,
        "plain": -1,
        "plainNumber": 2.5,
    }));
    assert_eq!(numbers.small, i32::MAX);
    assert_eq!(numbers.big, 9007199254740993);
    assert_eq!(numbers.single, 1.5f32);
    // int32 is checked: a larger value is an error, not a wrapped number.
    assert!(serde_json::from_value::<Numbers>(
        json!({"small": 2147483648i64, "big": 0, "single": 0.0, "double": 0.0})
    )
    .is_err());
}

#[test]
fn cursed_names_keep_their_wire_spelling() {
    let model: V3dModel = round_trip(json!({
        "1x": "one", "type": "t", "match": "2d", "enum": true, "loop": 3,
    }));
    assert_eq!(model.n1x.as_deref(), Some("one"));
    assert_eq!(model.r#type.as_deref(), Some("t"));
    assert_eq!(model.r#match, Some(Match::V2d));
    assert_eq!(model.r#enum, Some(true));
    assert_eq!(model.r#loop, Some(3));

    use fixture_cursed_names::types as cursed;
    let result: cursed::Result = round_trip(json!({
        "type": "t", "self": 1, "Self": 2, "-": true, "+": false, "1st": "a",
        "foo_bar": "x", "fooBar": "y", "$ref": "r", "async": "a b", "box": {"vec": []},
    }));
    assert_eq!(result.self_, Some(1));
    assert_eq!(result.self2, Some(2));
    assert_eq!(result.r#async, Some(cursed::Option::AB));
}
