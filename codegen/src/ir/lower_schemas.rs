//! `openapiv3` schemas to the type space. The only place (with `lower_operations`) that reads
//! `openapiv3` types.
//!
//! Component schemas are named first, so `$ref`s resolve to names before any type is lowered and
//! recursive schemas need no special order. Inline schemas that need a Rust type of their own (objects,
//! string enums, unions) get a name from where they appear (`JobStatus` for `Job.status`).
//!
//! Any spec must lower without panicking. What Rust types cannot express (`not`, `allOf` of a
//! string and an object, an alias that contains itself, a `$ref` outside the component schemas)
//! becomes `serde_json::Value` with a [`Warning`] naming its JSON pointer.

use std::collections::{BTreeMap, BTreeSet};

use openapiv3::{
    AdditionalProperties, OpenAPI, ReferenceOr, Schema, SchemaKind, StringFormat, Type,
    VariantOrUnknownOrEmpty,
};

use super::names::{type_name, value_name, Name, Scope};
use super::types::{Field, Struct, Ty, TypeDef, TypeKind, TypeSpace, Variant};
use super::Warning;
use crate::source::push_token;

/// A schema or a reference to one, however `openapiv3` boxes it.
#[derive(Clone, Copy)]
pub enum SchemaRef<'a> {
    Ref(&'a str),
    Inline(&'a Schema),
}

impl<'a> From<&'a ReferenceOr<Schema>> for SchemaRef<'a> {
    fn from(r: &'a ReferenceOr<Schema>) -> Self {
        match r {
            ReferenceOr::Reference { reference } => SchemaRef::Ref(reference),
            ReferenceOr::Item(s) => SchemaRef::Inline(s),
        }
    }
}

impl<'a> From<&'a ReferenceOr<Box<Schema>>> for SchemaRef<'a> {
    fn from(r: &'a ReferenceOr<Box<Schema>>) -> Self {
        match r {
            ReferenceOr::Reference { reference } => SchemaRef::Ref(reference),
            ReferenceOr::Item(s) => SchemaRef::Inline(s),
        }
    }
}

const COMPONENT_PREFIX: &str = "#/components/schemas/";

/// The structural reading of one schema, whatever `openapiv3` variant it parsed into.
enum Shape<'a> {
    String { secret: bool, values: Vec<String> },
    Integer { wide: bool },
    Number { single: bool },
    Boolean,
    Object(Object<'a>),
    Array(Option<SchemaRef<'a>>),
    OneOf(Vec<SchemaRef<'a>>),
    AllOf(Vec<SchemaRef<'a>>, Option<Object<'a>>),
    Any,
    Unsupported(&'static str),
}

#[derive(Default)]
struct Object<'a> {
    properties: Vec<(&'a str, SchemaRef<'a>)>,
    required: Vec<&'a str>,
    additional: Option<&'a AdditionalProperties>,
}

pub struct SchemaLowering<'a> {
    spec: &'a OpenAPI,
    pub space: TypeSpace,
    scope: Scope,
    /// Component schema API name -> Rust type name.
    components: BTreeMap<String, String>,
    pub warnings: Vec<Warning>,
}

impl<'a> SchemaLowering<'a> {
    pub fn new(spec: &'a OpenAPI) -> SchemaLowering<'a> {
        let mut scope = Scope::new();
        let mut components = BTreeMap::new();
        let schemas = spec.components.as_ref().map(|c| &c.schemas);
        let mut api_names: Vec<&String> = schemas.into_iter().flat_map(|s| s.keys()).collect();
        api_names.sort();
        for api in api_names {
            let name = scope.claim(type_name(api));
            components.insert(api.clone(), name.rust);
        }
        SchemaLowering {
            spec,
            space: TypeSpace::default(),
            scope,
            components,
            warnings: Vec::new(),
        }
    }

    /// Lowers every component schema, in name order.
    pub fn lower_components(&mut self) {
        let Some(components) = self.spec.components.as_ref() else {
            return;
        };
        let mut entries: Vec<(&String, &ReferenceOr<Schema>)> = components.schemas.iter().collect();
        entries.sort_by_key(|(k, _)| *k);
        for (api, schema) in entries {
            let rust = self.components[api].clone();
            let pointer = push_token("/components/schemas", api);
            let name = Name {
                api: api.clone(),
                rust,
            };
            self.define(name, &pointer, schema.into());
        }
    }

    /// Finishes the space: boxes by-value cycles and decides which types can derive `Eq`.
    pub fn finish(mut self) -> (TypeSpace, Vec<Warning>) {
        let looping = break_alias_cycles(&mut self.space);
        self.warnings.extend(looping);
        box_cycles(&mut self.space);
        order_untagged_variants(&mut self.space);
        decide_eq(&mut self.space);
        (self.space, self.warnings)
    }

    fn warn(&mut self, pointer: &str, message: impl Into<String>) {
        self.warnings.push(Warning {
            pointer: pointer.to_string(),
            message: message.into(),
        });
    }

    /// The component schema a `$ref` names, through chains of `$ref`s. `None` for a reference that
    /// leaves the component schemas or a chain that loops (`A: {$ref: B}`, `B: {$ref: A}`).
    fn resolve(&self, reference: &str) -> Option<(&'a str, &'a Schema)> {
        let schemas = &self.spec.components.as_ref()?.schemas;
        let mut reference = reference;
        for _ in 0..=schemas.len() {
            let api = crate::source::unescape_token(reference.strip_prefix(COMPONENT_PREFIX)?);
            let (key, schema) = schemas.get_key_value(&api)?;
            match schema {
                ReferenceOr::Item(s) => return Some((key.as_str(), s)),
                ReferenceOr::Reference { reference: next } => reference = next,
            }
        }
        None
    }

    /// Whether a value of this schema may be `null`.
    pub fn nullable(&self, schema: SchemaRef<'_>) -> bool {
        match schema {
            SchemaRef::Inline(s) => s.schema_data.nullable,
            SchemaRef::Ref(r) => self.resolve(r).is_some_and(|(_, s)| s.schema_data.nullable),
        }
    }

    /// The Rust type of a schema used somewhere; `context` names any type that has to be made for it.
    pub fn ty(&mut self, schema: SchemaRef<'a>, pointer: &str, context: &str) -> Ty {
        let schema = match schema {
            SchemaRef::Ref(reference) => {
                let api = reference
                    .strip_prefix(COMPONENT_PREFIX)
                    .map(crate::source::unescape_token);
                return match api.and_then(|a| self.components.get(&a)) {
                    Some(rust) => Ty::Named(rust.clone()),
                    None => {
                        self.warn(pointer, format!("$ref `{reference}` is not a component schema; using serde_json::Value"));
                        Ty::Json
                    }
                };
            }
            SchemaRef::Inline(s) => s,
        };
        match shape(schema) {
            Shape::String {
                secret: true,
                values,
            } if values.is_empty() => Ty::Secret,
            Shape::String { values, .. } if values.is_empty() => Ty::String,
            Shape::Integer { wide } => {
                if wide {
                    Ty::I64
                } else {
                    Ty::I32
                }
            }
            Shape::Number { single } => {
                if single {
                    Ty::F32
                } else {
                    Ty::F64
                }
            }
            Shape::Boolean => Ty::Bool,
            Shape::Any => Ty::Json,
            Shape::Array(items) => Ty::Vec(Box::new(self.items(items, pointer, context))),
            Shape::Object(ref o) if o.properties.is_empty() => self.map_of(o, pointer, context),
            Shape::AllOf(ref branches, None) if branches.len() == 1 => {
                self.ty(branches[0], &format!("{pointer}/allOf/0"), context)
            }
            Shape::Unsupported(what) => {
                self.warn(
                    pointer,
                    format!("{what} cannot be expressed in Rust; using serde_json::Value"),
                );
                Ty::Json
            }
            _ => {
                let name = self.scope.claim(type_name(context));
                let rust = name.rust.clone();
                self.define(name, pointer, SchemaRef::Inline(schema));
                Ty::Named(rust)
            }
        }
    }

    fn items(&mut self, items: Option<SchemaRef<'a>>, pointer: &str, context: &str) -> Ty {
        match items {
            Some(items) => self.ty(
                items,
                &format!("{pointer}/items"),
                &format!("{context}Item"),
            ),
            None => Ty::Json,
        }
    }

    fn map_of(&mut self, object: &Object<'a>, pointer: &str, context: &str) -> Ty {
        match object.additional {
            Some(AdditionalProperties::Schema(s)) => {
                let ty = self.ty(
                    s.as_ref().into(),
                    &format!("{pointer}/additionalProperties"),
                    &format!("{context}Value"),
                );
                Ty::Map(Box::new(ty))
            }
            _ => Ty::JsonObject,
        }
    }

    /// Adds a named type for `schema` to the space.
    fn define(&mut self, name: Name, pointer: &str, schema: SchemaRef<'a>) {
        let context = name.rust.clone();
        let (doc, kind) = match schema {
            SchemaRef::Ref(_) => (None, TypeKind::Alias(self.ty(schema, pointer, &context))),
            SchemaRef::Inline(s) => {
                let mut doc = doc_of(s);
                let kind = self.kind(s, pointer, &context, &mut doc);
                (doc, kind)
            }
        };
        self.space.types.insert(
            name.rust.clone(),
            TypeDef {
                name,
                doc,
                pointer: pointer.to_string(),
                kind,
                eq: true,
            },
        );
    }

    /// The kind of a named type; may add to its `doc` what the kind leaves out.
    fn kind(
        &mut self,
        schema: &'a Schema,
        pointer: &str,
        context: &str,
        doc: &mut Option<String>,
    ) -> TypeKind {
        match shape(schema) {
            Shape::String { values, .. } if !values.is_empty() => string_enum(&values),
            Shape::OneOf(branches) if branches.is_empty() => {
                self.warn(pointer, "a oneOf/anyOf without branches cannot be expressed in Rust; using serde_json::Value");
                TypeKind::Alias(Ty::Json)
            }
            Shape::OneOf(branches) => {
                if matches!(&schema.schema_kind, SchemaKind::Any(a) if !a.properties.is_empty()) {
                    self.warn(pointer, "properties next to a oneOf/anyOf of other objects are not part of the generated type (only the branches are)");
                }
                match self.enum_branches(&branches) {
                    Some(values) => {
                        append_value_docs(doc, &values);
                        let values: Vec<String> = values.into_iter().map(|(v, _)| v).collect();
                        string_enum(&values)
                    }
                    None => self.union(schema, &branches, pointer, context),
                }
            }
            Shape::Object(object) if !object.properties.is_empty() => {
                TypeKind::Struct(self.structure(&object, pointer, context))
            }
            Shape::AllOf(branches, own) => match self.merge(&branches, own) {
                Some(object) if !object.properties.is_empty() => {
                    TypeKind::Struct(self.structure(&object, pointer, context))
                }
                Some(object) => TypeKind::Alias(self.map_of(&object, pointer, context)),
                None if branches.len() == 1 => {
                    TypeKind::Alias(self.ty(branches[0], &format!("{pointer}/allOf/0"), context))
                }
                None => {
                    self.warn(pointer, "allOf of schemas that are not all objects cannot be merged; using serde_json::Value");
                    TypeKind::Alias(Ty::Json)
                }
            },
            _ => TypeKind::Alias(self.ty(SchemaRef::Inline(schema), pointer, context)),
        }
    }

    fn structure(&mut self, object: &Object<'a>, pointer: &str, context: &str) -> Struct {
        let mut scope = Scope::new();
        let additional = match object.additional {
            Some(AdditionalProperties::Schema(_)) | Some(AdditionalProperties::Any(true)) => {
                scope.reserve("additional_properties");
                match self.map_of(object, pointer, context) {
                    Ty::Map(value) => Some(*value),
                    _ => Some(Ty::Json),
                }
            }
            _ => None,
        };
        let mut fields = Vec::new();
        for (api, schema) in &object.properties {
            let at = push_token(&push_token(pointer, "properties"), api);
            let field_context = format!("{context}{}", type_name(api).rust);
            let ty = self.ty(*schema, &at, &field_context);
            let doc = match schema {
                SchemaRef::Inline(s) => doc_of(s),
                SchemaRef::Ref(_) => None,
            };
            fields.push(Field {
                name: scope.claim(value_name(api)),
                ty,
                required: object.required.contains(api),
                nullable: self.nullable(*schema),
                doc,
            });
        }
        Struct { fields, additional }
    }

    /// The properties of an `allOf`, merged; `None` when a branch is not an object.
    fn merge(&self, branches: &[SchemaRef<'a>], own: Option<Object<'a>>) -> Option<Object<'a>> {
        let mut merged = own.unwrap_or_default();
        let mut seen = BTreeSet::new();
        self.merge_into(branches, &mut merged, &mut seen, 0)?;
        Some(merged)
    }

    fn merge_into(
        &self,
        branches: &[SchemaRef<'a>],
        merged: &mut Object<'a>,
        seen: &mut BTreeSet<String>,
        depth: usize,
    ) -> Option<()> {
        if depth > 16 {
            return None;
        }
        for branch in branches {
            let schema = match branch {
                SchemaRef::Ref(r) => {
                    if !seen.insert(r.to_string()) {
                        continue;
                    }
                    self.resolve(r)?.1
                }
                SchemaRef::Inline(s) => s,
            };
            match shape(schema) {
                Shape::Object(o) => absorb(merged, o),
                Shape::AllOf(inner, own) => {
                    if let Some(o) = own {
                        absorb(merged, o);
                    }
                    self.merge_into(&inner, merged, seen, depth + 1)?;
                }
                // A description-only branch adds nothing.
                Shape::Any if is_annotation_only(schema) => {}
                _ => return None,
            }
        }
        Some(())
    }

    fn union(
        &mut self,
        schema: &'a Schema,
        branches: &[SchemaRef<'a>],
        pointer: &str,
        context: &str,
    ) -> TypeKind {
        let keyword = match &schema.schema_kind {
            SchemaKind::AnyOf { .. } => "anyOf",
            _ => "oneOf",
        };
        let discriminator = schema.schema_data.discriminator.as_ref();
        let tag = discriminator
            .map(|d| d.property_name.clone())
            .or_else(|| self.implicit_tag(branches));
        // Tags first: an inline branch without a title is named after its tag value (`RangeTo`
        // reads better than `V0`), and its inline types are named after the variant.
        let mut claimed = BTreeSet::new();
        let tags: Vec<Vec<String>> = branches
            .iter()
            .map(|branch| {
                let Some(property) = &tag else {
                    return Vec::new();
                };
                let mut values = self.branch_tags(*branch, property, discriminator);
                // A value already taken by an earlier branch could never select this one.
                values.retain(|v| claimed.insert(v.clone()));
                values
            })
            .collect();
        let mut scope = Scope::new();
        scope.reserve("Other");
        let mut variants = Vec::new();
        for (i, (branch, tags)) in branches.iter().zip(tags).enumerate() {
            let at = format!("{pointer}/{keyword}/{i}");
            let label = match branch {
                SchemaRef::Ref(r) => {
                    crate::source::unescape_token(r.rsplit('/').next().unwrap_or("V"))
                }
                SchemaRef::Inline(s) => match (&s.schema_data.title, tags.first()) {
                    (Some(title), _) => title.clone(),
                    (None, Some(tag)) => tag.clone(),
                    (None, None) => format!("V{i}"),
                },
            };
            let name = scope.claim(type_name(&label));
            let ty = self.ty(*branch, &at, &format!("{context}{}", name.rust));
            variants.push(Variant { name, ty, tags });
        }
        if tag.is_some() && variants.iter().any(|v| v.tags.is_empty()) {
            self.warn(
                pointer,
                "a discriminated union with a variant whose tag value is unknown is read untagged",
            );
            for v in &mut variants {
                v.tags.clear();
            }
            return TypeKind::Union {
                variants,
                tag: None,
            };
        }
        TypeKind::Union { variants, tag }
    }

    /// The values and descriptions of a `oneOf`/`anyOf` whose branches are all string enums (how
    /// schemars documents each value of a Rust enum separately, as Oxide's API does). Read as a
    /// union, the first branch's open enum would take every value.
    fn enum_branches(&self, branches: &[SchemaRef<'a>]) -> Option<Vec<(String, Option<String>)>> {
        let mut out = Vec::new();
        for branch in branches {
            let schema = match branch {
                SchemaRef::Ref(r) => self.resolve(r)?.1,
                SchemaRef::Inline(s) => s,
            };
            let Shape::String {
                secret: false,
                values,
            } = shape(schema)
            else {
                return None;
            };
            if values.is_empty() {
                return None;
            }
            let description = schema.schema_data.description.clone();
            out.extend(values.into_iter().map(|v| (v, description.clone())));
        }
        Some(out)
    }

    /// The discriminator values that select `branch`: its `mapping` entries; else the one value its
    /// schema allows for the tag property (what the wire carries, whatever the schema is called);
    /// else, for an explicit discriminator and a `$ref`, the schema's name (OpenAPI's default).
    fn branch_tags(
        &self,
        branch: SchemaRef<'a>,
        property: &str,
        discriminator: Option<&openapiv3::Discriminator>,
    ) -> Vec<String> {
        let reference = match branch {
            SchemaRef::Ref(r) => Some(r),
            SchemaRef::Inline(_) => None,
        };
        let component =
            reference.map(|r| crate::source::unescape_token(r.rsplit('/').next().unwrap_or("")));
        if let (Some(d), Some(reference)) = (discriminator, reference) {
            let mapped: Vec<String> = d
                .mapping
                .iter()
                .filter(|(_, target)| {
                    target.as_str() == reference || Some(target.as_str()) == component.as_deref()
                })
                .map(|(value, _)| value.clone())
                .collect();
            if !mapped.is_empty() {
                return mapped;
            }
        }
        if let Some(value) = self
            .object_of(branch)
            .and_then(|o| self.constant_property(&o, property))
        {
            return vec![value];
        }
        match (discriminator, component) {
            (Some(_), Some(name)) => vec![name],
            _ => Vec::new(),
        }
    }

    /// A tag property the spec does not declare: every branch is an object whose required property
    /// of this name allows exactly one string, a different one in each branch. This is how serde's
    /// internally tagged enums look through schemars (Oxide's API), and reading such a union untagged
    /// would pick the first branch whose other fields fit, whatever the tag says.
    fn implicit_tag(&self, branches: &[SchemaRef<'a>]) -> Option<String> {
        let objects: Vec<Object<'a>> = branches
            .iter()
            .map(|b| self.object_of(*b))
            .collect::<Option<_>>()?;
        let first = objects.first()?;
        first.properties.iter().find_map(|(property, _)| {
            let mut values = BTreeSet::new();
            for object in &objects {
                if !object.required.contains(property) {
                    return None;
                }
                if !values.insert(self.constant_property(object, property)?) {
                    return None;
                }
            }
            Some(property.to_string())
        })
    }

    /// The object a union branch is, through `$ref`s and merged `allOf`s; `None` for anything else.
    fn object_of(&self, branch: SchemaRef<'a>) -> Option<Object<'a>> {
        let schema = match branch {
            SchemaRef::Ref(r) => self.resolve(r)?.1,
            SchemaRef::Inline(s) => s,
        };
        match shape(schema) {
            Shape::Object(o) => Some(o),
            Shape::AllOf(branches, own) => self.merge(&branches, own),
            _ => None,
        }
    }

    /// The only value a string property of `object` may take (`enum` with one member).
    fn constant_property(&self, object: &Object<'a>, property: &str) -> Option<String> {
        let (_, schema) = object.properties.iter().find(|(n, _)| *n == property)?;
        let schema = match schema {
            SchemaRef::Ref(r) => self.resolve(r)?.1,
            SchemaRef::Inline(s) => s,
        };
        match shape(schema) {
            Shape::String { values, .. } if values.len() == 1 => values.into_iter().next(),
            _ => None,
        }
    }
}

/// Adds `- `value`: description` lines to a type's doc: for an enum made of `oneOf` branches, the
/// branches' descriptions are the only docs its values have.
fn append_value_docs(doc: &mut Option<String>, values: &[(String, Option<String>)]) {
    let described: Vec<String> = values
        .iter()
        .filter_map(|(v, d)| {
            let d = d.as_deref()?.trim().replace('\n', "\n  ");
            Some(format!("- `{v}`: {d}"))
        })
        .collect();
    if described.is_empty() {
        return;
    }
    let list = described.join("\n");
    *doc = Some(match doc.take() {
        Some(d) => format!("{d}\n\n{list}"),
        None => list,
    });
}

/// An open string enum of `values` (duplicates dropped: each value is one variant).
fn string_enum(values: &[String]) -> TypeKind {
    let mut scope = Scope::new();
    scope.reserve("Unknown");
    let mut seen = BTreeSet::new();
    let variants = values
        .iter()
        .filter(|v| seen.insert(v.as_str()))
        .map(|v| scope.claim(type_name(v)))
        .collect();
    TypeKind::StringEnum { variants }
}

fn absorb<'a>(merged: &mut Object<'a>, o: Object<'a>) {
    for (name, schema) in o.properties {
        if let Some(existing) = merged.properties.iter_mut().find(|(n, _)| *n == name) {
            existing.1 = schema;
        } else {
            merged.properties.push((name, schema));
        }
    }
    for r in o.required {
        if !merged.required.contains(&r) {
            merged.required.push(r);
        }
    }
    if o.additional.is_some() {
        merged.additional = o.additional;
    }
}

fn is_annotation_only(schema: &Schema) -> bool {
    match &schema.schema_kind {
        SchemaKind::Any(a) => {
            a.typ.is_none()
                && a.properties.is_empty()
                && a.items.is_none()
                && a.one_of.is_empty()
                && a.all_of.is_empty()
                && a.any_of.is_empty()
                && a.enumeration.is_empty()
                && a.additional_properties.is_none()
        }
        _ => false,
    }
}

fn is_secret(schema: &Schema, format_password: bool) -> bool {
    format_password
        || schema
            .schema_data
            .extensions
            .get("x-secret")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
}

fn shape(schema: &Schema) -> Shape<'_> {
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(s)) => Shape::String {
            secret: is_secret(
                schema,
                matches!(
                    s.format,
                    VariantOrUnknownOrEmpty::Item(StringFormat::Password)
                ),
            ),
            values: s.enumeration.iter().flatten().cloned().collect(),
        },
        SchemaKind::Type(Type::Integer(i)) => Shape::Integer {
            wide: !matches!(
                &i.format,
                VariantOrUnknownOrEmpty::Item(openapiv3::IntegerFormat::Int32)
            ),
        },
        SchemaKind::Type(Type::Number(n)) => Shape::Number {
            single: matches!(
                &n.format,
                VariantOrUnknownOrEmpty::Item(openapiv3::NumberFormat::Float)
            ),
        },
        SchemaKind::Type(Type::Boolean(_)) => Shape::Boolean,
        SchemaKind::Type(Type::Object(o)) => Shape::Object(Object {
            properties: o
                .properties
                .iter()
                .map(|(k, v)| (k.as_str(), v.into()))
                .collect(),
            required: o.required.iter().map(String::as_str).collect(),
            additional: o.additional_properties.as_ref(),
        }),
        SchemaKind::Type(Type::Array(a)) => Shape::Array(a.items.as_ref().map(Into::into)),
        SchemaKind::OneOf { one_of } => Shape::OneOf(one_of.iter().map(Into::into).collect()),
        SchemaKind::AnyOf { any_of } => Shape::OneOf(any_of.iter().map(Into::into).collect()),
        SchemaKind::AllOf { all_of } => Shape::AllOf(all_of.iter().map(Into::into).collect(), None),
        SchemaKind::Not { .. } => Shape::Unsupported("`not`"),
        SchemaKind::Any(a) => any_shape(schema, a),
    }
}

/// `openapiv3` parses schemas without a recognizable `type` (or with several keywords) as `Any`;
/// read them by what they contain.
fn any_shape<'a>(schema: &'a Schema, a: &'a openapiv3::AnySchema) -> Shape<'a> {
    let object = || Object {
        properties: a
            .properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.into()))
            .collect(),
        required: a.required.iter().map(String::as_str).collect(),
        additional: a.additional_properties.as_ref(),
    };
    if !a.all_of.is_empty() {
        let own = (!a.properties.is_empty()).then(object);
        return Shape::AllOf(a.all_of.iter().map(Into::into).collect(), own);
    }
    let branches = if a.one_of.is_empty() {
        &a.any_of
    } else {
        &a.one_of
    };
    if !branches.is_empty() {
        if !a.properties.is_empty() && branches.iter().all(|b| only_constrains(b, &a.properties)) {
            return Shape::Object(object());
        }
        return Shape::OneOf(branches.iter().map(Into::into).collect());
    }
    if !a.properties.is_empty()
        || a.additional_properties.is_some()
        || a.typ.as_deref() == Some("object")
    {
        return Shape::Object(object());
    }
    if a.items.is_some() || a.typ.as_deref() == Some("array") {
        return Shape::Array(a.items.as_ref().map(Into::into));
    }
    let strings: Vec<String> = a
        .enumeration
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    match a.typ.as_deref() {
        Some("string") => Shape::String {
            secret: is_secret(schema, a.format.as_deref() == Some("password")),
            values: strings,
        },
        Some("integer") => Shape::Integer {
            wide: a.format.as_deref() != Some("int32"),
        },
        Some("number") => Shape::Number {
            single: a.format.as_deref() == Some("float"),
        },
        Some("boolean") => Shape::Boolean,
        _ if !strings.is_empty()
            && strings.len() == a.enumeration.iter().filter(|v| !v.is_null()).count() =>
        {
            Shape::String {
                secret: false,
                values: strings,
            }
        }
        _ => Shape::Any,
    }
}

/// Whether a `oneOf`/`anyOf` branch next to `properties` only says which of them must be present
/// (`oneOf: [{required: [id]}, {required: [owner, repo]}]`, as GitHub's request bodies do). Such a
/// schema is the object; reading it as a union of branches would lose every property.
fn only_constrains(
    branch: &ReferenceOr<Schema>,
    own: &indexmap::IndexMap<String, ReferenceOr<Box<Schema>>>,
) -> bool {
    let ReferenceOr::Item(schema) = branch else {
        return false;
    };
    let properties = match &schema.schema_kind {
        SchemaKind::Type(Type::Object(o)) => &o.properties,
        SchemaKind::Any(a)
            if matches!(a.typ.as_deref(), None | Some("object"))
                && a.items.is_none()
                && a.one_of.is_empty()
                && a.any_of.is_empty()
                && a.all_of.is_empty()
                && a.enumeration.is_empty() =>
        {
            &a.properties
        }
        _ => return false,
    };
    properties.keys().all(|k| own.contains_key(k))
}

/// The doc comment of a schema: its title and description.
pub fn doc_of(schema: &Schema) -> Option<String> {
    let parts: Vec<&str> = [
        schema.schema_data.title.as_deref(),
        schema.schema_data.description.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(str::trim)
    .filter(|s| !s.is_empty())
    .collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// Boxes every by-value reference between types of one strongly connected component, so recursive
/// schemas have a finite size. Tarjan's algorithm, iterative-free on purpose (type graphs are
/// shallow enough), over names in sorted order so the result is deterministic.
fn box_cycles(space: &mut TypeSpace) {
    let names: Vec<String> = space.types.keys().cloned().collect();
    let index_of: BTreeMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let edges: Vec<Vec<usize>> = names
        .iter()
        .map(|n| {
            by_value_refs(&space.types[n].kind)
                .into_iter()
                .filter_map(|t| index_of.get(t.as_str()).copied())
                .collect()
        })
        .collect();
    let component = strongly_connected(&edges);
    for (i, name) in names.iter().enumerate() {
        let same = |target: &str| {
            index_of
                .get(target)
                .is_some_and(|j| component[*j] == component[i])
        };
        let def = space.types.get_mut(name).expect("name from keys");
        let fix = |ty: &mut Ty| {
            if let Ty::Named(target) = ty {
                if same(target) {
                    *ty = Ty::Boxed(Box::new(ty.clone()));
                }
            }
        };
        match &mut def.kind {
            TypeKind::Struct(s) => s.fields.iter_mut().for_each(|f| fix(&mut f.ty)),
            TypeKind::Union { variants, .. } => variants.iter_mut().for_each(|v| fix(&mut v.ty)),
            TypeKind::Alias(_) | TypeKind::StringEnum { .. } => {}
        }
    }
}

/// Untagged unions take the first variant a value deserializes into, and serde ignores unknown
/// members, so a variant that accepts more values than a later one hides it: `{a}` before `{a, b}`
/// reads every `{a, b}` as `{a}`, and `serde_json::Value` takes everything. Variants are tried from
/// the most specific (more required fields) to catch-alls; otherwise in the spec's order.
fn order_untagged_variants(space: &mut TypeSpace) {
    let keys: BTreeMap<String, Vec<(u8, std::cmp::Reverse<usize>)>> = space
        .types
        .iter()
        .filter_map(|(name, def)| match &def.kind {
            TypeKind::Union {
                variants,
                tag: None,
            } => Some((
                name.clone(),
                variants.iter().map(|v| specificity(&v.ty, space)).collect(),
            )),
            _ => None,
        })
        .collect();
    for (name, keys) in keys {
        let def = space.types.get_mut(&name).expect("name from keys");
        if let TypeKind::Union { variants, .. } = &mut def.kind {
            let mut keyed: Vec<_> = keys.into_iter().zip(variants.drain(..)).collect();
            keyed.sort_by_key(|(key, _)| *key);
            variants.extend(keyed.into_iter().map(|(_, v)| v));
        }
    }
}

/// How much a type accepts, as a sort key: lower is tried first in an untagged union.
fn specificity(ty: &Ty, space: &TypeSpace) -> (u8, std::cmp::Reverse<usize>) {
    let mut ty = ty;
    // Through aliases and boxes, a bounded number of steps (alias cycles were broken before).
    for _ in 0..16 {
        match ty {
            Ty::Boxed(inner) => ty = inner,
            Ty::Named(n) => match space.types.get(n).map(|d| &d.kind) {
                Some(TypeKind::Alias(inner)) => ty = inner,
                Some(TypeKind::Struct(s)) => {
                    let required = s.fields.iter().filter(|f| f.required).count();
                    return (u8::from(required == 0), std::cmp::Reverse(required));
                }
                _ => break,
            },
            _ => break,
        }
    }
    match ty {
        Ty::Json => (3, std::cmp::Reverse(0)),
        Ty::JsonObject | Ty::Map(_) => (2, std::cmp::Reverse(0)),
        _ => (0, std::cmp::Reverse(0)),
    }
}

/// Type aliases that refer to themselves (`A: {$ref: B}`, `B: {$ref: A}`, or `A: {type: array, items:
/// {$ref: A}}`) are not Rust (`type A = Vec<A>;` is a cycle error), and no `Box` fixes an alias:
/// each becomes `serde_json::Value`, with a warning.
fn break_alias_cycles(space: &mut TypeSpace) -> Vec<Warning> {
    let aliases: Vec<String> = space
        .types
        .iter()
        .filter(|(_, d)| matches!(d.kind, TypeKind::Alias(_)))
        .map(|(n, _)| n.clone())
        .collect();
    let index_of: BTreeMap<&str, usize> = aliases
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let edges: Vec<Vec<usize>> = aliases
        .iter()
        .map(|n| match &space.types[n].kind {
            TypeKind::Alias(t) => {
                let mut named = Vec::new();
                t.mentions(&mut named);
                named
                    .into_iter()
                    .filter_map(|t| index_of.get(t).copied())
                    .collect()
            }
            _ => Vec::new(),
        })
        .collect();
    let component = strongly_connected(&edges);
    let mut size = vec![0usize; aliases.len()];
    for c in &component {
        size[*c] += 1;
    }
    let mut warnings = Vec::new();
    for (i, name) in aliases.iter().enumerate() {
        let looped = edges[i].contains(&i) || size[component[i]] > 1;
        if looped {
            let def = space.types.get_mut(name).expect("name from keys");
            def.kind = TypeKind::Alias(Ty::Json);
            warnings.push(Warning {
                pointer: def.pointer.clone(),
                message: "a type alias that contains itself (through `$ref`s, arrays or maps) cannot be expressed in Rust; using serde_json::Value".into(),
            });
        }
    }
    warnings
}

fn by_value_refs(kind: &TypeKind) -> Vec<String> {
    let tys: Vec<&Ty> = match kind {
        TypeKind::Struct(s) => s.fields.iter().map(|f| &f.ty).collect(),
        TypeKind::Union { variants, .. } => variants.iter().map(|v| &v.ty).collect(),
        TypeKind::Alias(t) => vec![t],
        TypeKind::StringEnum { .. } => Vec::new(),
    };
    tys.into_iter()
        .filter_map(|t| t.by_value().map(str::to_string))
        .collect()
}

/// Component number of each node (Tarjan).
fn strongly_connected(edges: &[Vec<usize>]) -> Vec<usize> {
    struct State<'e> {
        edges: &'e [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        component: Vec<usize>,
        components: usize,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &s.edges[v] {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                s.component[w] = s.components;
                if w == v {
                    break;
                }
            }
            s.components += 1;
        }
    }
    let n = edges.len();
    let mut s = State {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        component: vec![0; n],
        components: 0,
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    // A node alone in its component is still a cycle when it points at itself; Tarjan gives it its
    // own component, and `same` compares equal, so self-references are boxed too.
    s.component
}

/// A type derives `Eq` when nothing in it is a float or free-form JSON. Fixed point over the space.
fn decide_eq(space: &mut TypeSpace) {
    // A type is not `Eq` when it holds a float or raw JSON itself, is a discriminated union (which
    // keeps unknown variants as raw JSON), or holds a type that is not `Eq`: found once for each
    // type, then spread to every type that holds it, through a worklist.
    fn intrinsic_float(ty: &Ty) -> bool {
        match ty {
            Ty::F32 | Ty::F64 | Ty::Json | Ty::JsonObject => true,
            Ty::Vec(t) | Ty::Map(t) | Ty::Boxed(t) => intrinsic_float(t),
            _ => false,
        }
    }
    let mut holders: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut not_eq: Vec<String> = Vec::new();
    for (name, def) in &space.types {
        let tys: Vec<&Ty> = match &def.kind {
            TypeKind::Struct(s) => s
                .fields
                .iter()
                .map(|f| &f.ty)
                .chain(s.additional.iter())
                .collect(),
            TypeKind::Union { variants, .. } => variants.iter().map(|v| &v.ty).collect(),
            TypeKind::Alias(t) => vec![t],
            TypeKind::StringEnum { .. } => Vec::new(),
        };
        let mut mentioned = Vec::new();
        for t in &tys {
            t.mentions(&mut mentioned);
        }
        let tagged = matches!(&def.kind, TypeKind::Union { tag: Some(_), .. });
        let unknown = mentioned.iter().any(|m| !space.types.contains_key(*m));
        if !def.eq || tagged || unknown || tys.iter().any(|t| intrinsic_float(t)) {
            not_eq.push(name.clone());
        }
        for m in mentioned {
            holders.entry(m.to_string()).or_default().push(name.clone());
        }
    }
    let mut done = std::collections::BTreeSet::new();
    while let Some(name) = not_eq.pop() {
        if !done.insert(name.clone()) {
            continue;
        }
        if let Some(def) = space.types.get_mut(&name) {
            def.eq = false;
        }
        if let Some(hs) = holders.get(&name) {
            not_eq.extend(hs.iter().filter(|h| !done.contains(*h)).cloned());
        }
    }
}
