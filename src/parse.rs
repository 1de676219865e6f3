//! Parsing: spec text to [`Spec`], with every structural problem located.
//!
//! Stage: parse. Input: a [`SourceFile`]. Output: the typed [`Spec`] and the
//! positioned YAML tree (which later stages use to point at keys and values),
//! or every diagnostic of the file. Three passes:
//! 1. YAML to a positioned tree ([`crate::yaml`]): syntax, duplicate keys;
//! 2. structure, all of it in one run, each problem at its own span: the
//!    tree against the JSON Schema derived from the spec types (unknown and
//!    missing keys, wrong types, bad enum values, bounds), then the values
//!    that the schema describes only loosely, checked as serde will read
//!    them: typed scalars (rates, sizes, origins) parsed with their own
//!    `FromStr`, whole numbers written as floats (`1.0`), non-finite numbers;
//! 3. serde_yaml into the spec types. A tree that passed 2 deserializes; if
//!    it ever does not, the error is still located at the value it names.
//!
//! When 1 or 2 find problems, the spec cannot be read whole, but its sound
//! parts can: they are read one by one into a [`PartialSpec`], and the
//! semantic checks whose inputs are all sound run on them
//! ([`validate::validate_partial`]), so that a file's semantic errors are
//! reported together with its structural ones, and never because of them.

use std::collections::HashSet;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};
use serde::de::DeserializeOwned;

use crate::diagnostic::{Code, Diagnostic};
use crate::schema;
use crate::source::{SourceFile, Span};
use crate::spec::{self, Origin, PartialResource, PartialSpec, Rate, Size, Spec};
use crate::suggest::{did_you_mean, name_fix};
use crate::validate;
use crate::yaml::{self, Node, Step, Value};

/// A structurally valid spec with the tree it was read from.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub spec: Spec,
    pub root: Node,
}

/// Parses and structurally checks `source`. On failure, the diagnostics
/// also hold the semantic problems of the parts that are structurally sound.
pub fn parse(source: &SourceFile) -> Result<Parsed, Vec<Diagnostic>> {
    let (root, mut diagnostics) = yaml::parse(source);
    let Some(root) = root.filter(|r| r.value != Value::Null) else {
        if diagnostics.is_empty() {
            diagnostics.push(
                Diagnostic::error(Code::EmptySpec, "the file holds no spec")
                    .at(Span::new(0, 0), "empty")
                    .with_help("run `palisade init` for a commented starter spec"),
            );
        }
        return Err(diagnostics);
    };
    let mut structure = Structure::check(&root);
    for d in &diagnostics {
        if d.code == Code::DuplicateKey {
            // The entry that was kept is not all the author wrote either.
            if let Some(path) = d.secondary.first().and_then(|l| key_path(&root, l.span)) {
                structure.errors.push(path);
            }
        }
    }
    if diagnostics.is_empty() && structure.diagnostics.is_empty() {
        match serde_yaml::from_str::<Spec>(source.text()) {
            Ok(spec) => return Ok(Parsed { spec, root }),
            Err(error) => {
                // serde refuses what the schema describes only loosely:
                // every such value, each at its own span.
                structure.scalars(&root, source.text());
                if structure.diagnostics.is_empty() {
                    let (diagnostic, path) = serde_error(source, &root, &error);
                    structure.diagnostics.push(diagnostic);
                    structure.errors.push(path);
                }
            }
        }
    } else {
        structure.scalars(&root, source.text());
    }
    diagnostics.append(&mut structure.diagnostics);
    let trust = Trust::new(&root, structure.errors, structure.open);
    let partial = read_partial(&root, &trust);
    diagnostics.extend(validate::validate_partial(&partial, &root, &trust));
    Err(diagnostics)
}

fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::draft202012::new(schema::json_schema()).expect("the derived schema is valid")
    })
}

/// The structural pass alone: one diagnostic per problem of the tree.
/// `text` is the source the tree was parsed from.
pub fn check_structure(root: &Node, text: &str) -> Vec<Diagnostic> {
    let mut structure = Structure::check(root);
    structure.scalars(root, text);
    structure.diagnostics
}

/// A path from the root to a node, owned.
type Path = Vec<OwnedStep>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum OwnedStep {
    Key(String),
    Index(usize),
}

impl OwnedStep {
    fn borrow(&self) -> Step<'_> {
        match self {
            OwnedStep::Key(k) => Step::Key(k),
            OwnedStep::Index(i) => Step::Index(*i),
        }
    }
}

fn owned(path: &[Step<'_>]) -> Path {
    path.iter()
        .map(|s| match s {
            Step::Key(k) => OwnedStep::Key((*k).to_string()),
            Step::Index(i) => OwnedStep::Index(*i),
        })
        .collect()
}

/// The findings of the structural pass, and where they are.
#[derive(Default)]
struct Structure {
    diagnostics: Vec<Diagnostic>,
    /// Every node with a problem (for a missing key: where it belongs).
    errors: Vec<Path>,
    /// Mappings with an unknown key: a key absent from one of them may be
    /// the one that was misspelt.
    open: Vec<Path>,
}

impl Structure {
    /// The tree against the schema.
    fn check(root: &Node) -> Structure {
        let mut structure = Structure::default();
        let instance = root.to_json();
        for error in validator().iter_errors(&instance) {
            convert(root, &error, &mut structure);
        }
        structure
    }

    /// The values that the schema describes only loosely, checked as serde
    /// will read them. Needed only when serde refuses the tree or does not
    /// get to read it: what it finds is exactly what serde refuses.
    fn scalars(&mut self, root: &Node, text: &str) {
        let reported: HashSet<Path> = self.errors.iter().cloned().collect();
        let mut scalars = Scalars {
            text,
            reported: &reported,
            found: Vec::new(),
        };
        scalars.walk(root, schema::json_schema(), &mut Vec::new());
        for (diagnostic, path) in scalars.found {
            self.diagnostics.push(diagnostic);
            self.errors.push(path);
        }
    }
}

/// The second half of the structural pass: the values that the schema
/// describes only loosely, checked as serde will read them. Walks the tree
/// together with the schema, so that each problem keeps its own span.
struct Scalars<'a> {
    text: &'a str,
    /// Paths the schema already reported: not reported twice.
    reported: &'a HashSet<Path>,
    found: Vec<(Diagnostic, Path)>,
}

/// Follows `$ref`s; returns the schema and the name of the last definition.
fn deref(
    mut schema: &'static serde_json::Value,
) -> (&'static serde_json::Value, Option<&'static str>) {
    let root = schema::json_schema();
    let mut name = None;
    for _ in 0..16 {
        let Some(reference) = schema.get("$ref").and_then(|r| r.as_str()) else {
            break;
        };
        match reference.strip_prefix('#').and_then(|p| root.pointer(p)) {
            Some(target) => {
                name = reference.rsplit('/').next();
                schema = target;
            }
            None => break,
        }
    }
    (schema, name)
}

/// The JSON types a schema names at its own level.
fn types(schema: &serde_json::Value) -> Vec<&str> {
    match schema.get("type") {
        Some(serde_json::Value::String(t)) => vec![t.as_str()],
        Some(serde_json::Value::Array(ts)) => ts.iter().filter_map(|t| t.as_str()).collect(),
        _ => Vec::new(),
    }
}

/// Whether a branch of an `anyOf`/`oneOf` is for a value of `node`'s kind.
fn admits_kind(branch: &'static serde_json::Value, node: &Node) -> bool {
    let (branch, _) = deref(branch);
    let types = types(branch);
    if types.is_empty() {
        return true;
    }
    let kinds: &[&str] = match &node.value {
        Value::Null => &["null"],
        Value::Bool(_) => &["boolean"],
        Value::Int(_) => &["integer", "number"],
        Value::Float(f) if !f.is_finite() => &["string"],
        Value::Float(f) if f.fract() == 0.0 => &["integer", "number"],
        Value::Float(_) => &["number"],
        Value::String(_) => &["string"],
        Value::Seq(_) => &["array"],
        Value::Map(_) => &["object"],
    };
    types.iter().any(|t| kinds.contains(t))
}

fn names_of(path: &[Step<'_>]) -> Vec<String> {
    path.iter()
        .map(|s| match s {
            Step::Key(k) => (*k).to_string(),
            Step::Index(i) => i.to_string(),
        })
        .collect()
}

impl<'a> Scalars<'a> {
    fn push(&mut self, diagnostic: Diagnostic, path: &[Step<'_>]) {
        self.found.push((diagnostic, owned(path)));
    }

    /// The text of a node as written.
    fn written(&self, node: &Node) -> &'a str {
        self.text
            .get(node.span.start..node.span.end)
            .unwrap_or_default()
    }

    fn walk<'n>(
        &mut self,
        node: &'n Node,
        schema: &'static serde_json::Value,
        path: &mut Vec<Step<'n>>,
    ) {
        if !self.reported.is_empty() && self.reported.contains(&owned(path)) {
            return;
        }
        let (schema, name) = deref(schema);
        if let Value::String(s) = &node.value {
            // Rates and origins are inlined (so that an optional one is not
            // an `anyOf`): known by their pattern; sizes by their name.
            let pattern = schema.get("pattern").and_then(|p| p.as_str());
            let problem = if pattern == Some(Rate::PATTERN) {
                s.parse::<Rate>().err().map(|e| (Code::InvalidRate, e))
            } else if pattern == Some(Origin::PATTERN) {
                s.parse::<Origin>().err().map(|e| (Code::InvalidOrigin, e))
            } else if name == Some("Size") {
                s.parse::<Size>().err().map(|e| (Code::InvalidSize, e))
            } else {
                None
            };
            if let Some((code, message)) = problem {
                self.push(Diagnostic::error(code, message).at(node.span, "here"), path);
                return;
            }
        }
        match &node.value {
            // The schema sees it as text, and has refused it where a
            // number belongs.
            Value::Float(f) if !f.is_finite() => return,
            Value::Float(f) => self.float(*f, node, schema, path),
            Value::Int(i) => self.integer(*i, node, schema, path),
            Value::Map(entries) => {
                let properties = schema.get("properties");
                let extra = schema.get("additionalProperties").filter(|s| s.is_object());
                for entry in entries {
                    let sub = properties.and_then(|p| p.get(&entry.key)).or(extra);
                    if let Some(sub) = sub {
                        path.push(Step::Key(&entry.key));
                        self.walk(&entry.value, sub, path);
                        path.pop();
                    }
                }
            }
            Value::Seq(items) => {
                if let Some(sub) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        path.push(Step::Index(i));
                        self.walk(item, sub, path);
                        path.pop();
                    }
                }
            }
            _ => {}
        }
        let branches = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(|b| b.as_array());
        if let Some(branch) = branches.and_then(|b| b.iter().find(|b| admits_kind(b, node))) {
            self.walk(node, branch, path);
        }
    }

    /// A float where a whole number belongs: JSON Schema counts `1.0` as an
    /// integer, serde does not.
    fn float(&mut self, f: f64, node: &Node, schema: &serde_json::Value, path: &[Step<'_>]) {
        let types = types(schema);
        if !types.contains(&"integer") || types.contains(&"number") || f.fract() != 0.0 {
            return;
        }
        let written = self.written(node);
        let names = names_of(path);
        let diagnostic = if f.abs() < 9.2e18 {
            Diagnostic::error(
                Code::WrongType,
                format!(
                    "expected a whole number for {}, found `{written}`",
                    describe(&names)
                ),
            )
            .at(node.span, "expected a whole number")
            .with_help(format!("write `{}`", f as i64))
        } else {
            validate::bound_error(&names, f, written, node.span).unwrap_or_else(|| {
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`{written}` is too large for {}", describe(&names)),
                )
                .at(node.span, "too large")
            })
        };
        self.push(diagnostic, path);
    }

    /// An integer beyond the range of its Rust type (the schema's `format`,
    /// which JSON Schema validation does not check).
    fn integer(&mut self, i: i64, node: &Node, schema: &serde_json::Value, path: &[Step<'_>]) {
        let (least, most): (i64, i64) = match schema.get("format").and_then(|f| f.as_str()) {
            Some("uint8") => (0, u8::MAX.into()),
            Some("uint16") => (0, u16::MAX.into()),
            Some("uint32") => (0, u32::MAX.into()),
            Some("int8") => (i8::MIN.into(), i8::MAX.into()),
            Some("int16") => (i16::MIN.into(), i16::MAX.into()),
            Some("int32") => (i32::MIN.into(), i32::MAX.into()),
            _ => return,
        };
        if (least..=most).contains(&i) {
            return;
        }
        let names = names_of(path);
        let written = self.written(node);
        let diagnostic = validate::bound_error(&names, i as f64, written, node.span)
            .unwrap_or_else(|| {
                let (what, limit, label) = if i > most {
                    ("large", format!("the most allowed is {most}"), "too large")
                } else {
                    (
                        "small",
                        format!("the least allowed is {least}"),
                        "too small",
                    )
                };
                Diagnostic::error(
                    Code::InvalidValue,
                    format!(
                        "`{written}` is too {what} for {}: {limit}",
                        describe(&names)
                    ),
                )
                .at(node.span, label)
            });
        self.push(diagnostic, path);
    }
}

/// Which parts of a tree can be trusted after the structural pass: the
/// semantic checks ask it before they read a part.
///
/// Every question is answered by hash lookups (one per step of the path
/// asked about), so that a spec with many problems is not checked in time
/// that grows with their number times the number of questions.
#[derive(Debug)]
pub struct Trust<'a> {
    root: Option<&'a Node>,
    /// Whether any node has a problem, or any mapping an unknown key.
    complete: bool,
    /// Every node with a problem, cut before the first list index: a list
    /// with one bad item is not read at all, so that no index shifts.
    broken: HashSet<Path>,
    /// Mappings with an unknown key.
    open: HashSet<Path>,
    /// Every path at or above a node with a problem or a mapping with an
    /// unknown key.
    troubled: HashSet<Path>,
}

impl Trust<'_> {
    /// Trust in a spec without any structural problem.
    pub fn complete() -> Trust<'static> {
        Trust {
            root: None,
            complete: true,
            broken: HashSet::new(),
            open: HashSet::new(),
            troubled: HashSet::new(),
        }
    }

    fn new(root: &Node, errors: Vec<Path>, open: Vec<Path>) -> Trust<'_> {
        let broken = errors
            .iter()
            .map(|e| {
                let cut = e
                    .iter()
                    .position(|s| matches!(s, OwnedStep::Index(_)))
                    .unwrap_or(e.len());
                e[..cut].to_vec()
            })
            .collect();
        let troubled = errors
            .iter()
            .chain(&open)
            .flat_map(|e| (0..=e.len()).map(|n| e[..n].to_vec()))
            .collect();
        Trust {
            root: Some(root),
            complete: errors.is_empty() && open.is_empty(),
            broken,
            open: open.into_iter().collect(),
            troubled,
        }
    }

    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The value at `path` can be trusted: neither it nor anything above it
    /// has a structural problem, and if it is absent, it is really absent
    /// (not, perhaps, misspelt next to where it belongs). Problems below it
    /// may exist (see [`Trust::clean`]).
    pub fn sound(&self, path: &[Step<'_>]) -> bool {
        if self.is_complete() {
            return true;
        }
        let owned = owned(path);
        if (0..=owned.len()).any(|n| self.broken.contains(&owned[..n])) {
            return false;
        }
        let Some(mut node) = self.root else {
            return true;
        };
        for (i, step) in path.iter().enumerate() {
            match node.step(*step) {
                Some(next) => node = next,
                None => return !self.open.contains(&owned[..i]),
            }
        }
        true
    }

    /// The value at `path` and everything in it can be trusted.
    pub fn clean(&self, path: &[Step<'_>]) -> bool {
        self.sound(path) && (self.is_complete() || !self.troubled.contains(&owned(path)))
    }
}

/// Reads the sound parts of a tree.
struct Reader<'a> {
    root: &'a Node,
    trust: &'a Trust<'a>,
}

fn read_partial(root: &Node, trust: &Trust<'_>) -> PartialSpec {
    let reader = Reader { root, trust };
    let key = |k: &'static str| [Step::Key(k)];
    PartialSpec {
        palisade: reader.required(&key("palisade")),
        service: reader.required(&key("service")),
        auth: reader.required(&key("auth")),
        roles: reader.optional(&key("roles")),
        cors: reader.optional(&key("cors")),
        throttle: reader.optional(&key("throttle")),
        limits: reader.optional(&key("limits")),
        database: reader.optional(&key("database")),
        resources: reader.resources(),
    }
}

impl Reader<'_> {
    fn node(&self, path: &[Step<'_>]) -> Option<&Node> {
        let mut node = self.root;
        for step in path {
            node = node.step(*step)?;
        }
        Some(node)
    }

    /// The value as JSON, without the entries that have a problem.
    fn json(&self, node: &Node, path: &mut Vec<OwnedStep>) -> serde_json::Value {
        use serde_json::Value as J;
        match &node.value {
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .filter_map(|e| {
                        path.push(OwnedStep::Key(e.key.clone()));
                        let broken = self.trust.broken.contains(path);
                        let value = (!broken).then(|| self.json(&e.value, path));
                        path.pop();
                        value.map(|v| (e.key.clone(), v))
                    })
                    .collect(),
            ),
            Value::Seq(items) => J::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        path.push(OwnedStep::Index(i));
                        let value = self.json(item, path);
                        path.pop();
                        value
                    })
                    .collect(),
            ),
            _ => node.to_json(),
        }
    }

    fn read<T: DeserializeOwned>(&self, node: &Node, path: &[Step<'_>]) -> Option<T> {
        serde_json::from_value(self.json(node, &mut owned(path))).ok()
    }

    /// A required part: `None` when it is absent or not sound.
    fn required<T: DeserializeOwned>(&self, path: &[Step<'_>]) -> Option<T> {
        if !self.trust.sound(path) {
            return None;
        }
        self.read(self.node(path)?, path)
    }

    /// An optional part: its default when it is known to be absent.
    fn optional<T: DeserializeOwned + Default>(&self, path: &[Step<'_>]) -> Option<T> {
        if !self.trust.sound(path) {
            return None;
        }
        match self.node(path) {
            None => Some(T::default()),
            Some(node) => self.read(node, path),
        }
    }

    fn resources(&self) -> Option<indexmap::IndexMap<String, PartialResource>> {
        let path = [Step::Key("resources")];
        if !self.trust.sound(&path) {
            return None;
        }
        let Value::Map(entries) = &self.node(&path)?.value else {
            return None;
        };
        Some(
            entries
                .iter()
                .map(|e| (e.key.clone(), self.resource(&e.key)))
                .collect(),
        )
    }

    fn resource(&self, name: &str) -> PartialResource {
        let base = [Step::Key("resources"), Step::Key(name)];
        let is_map = self
            .node(&base)
            .is_some_and(|n| matches!(n.value, Value::Map(_)));
        if !self.trust.sound(&base) || !is_map {
            return PartialResource::default();
        }
        let at = |key: &'static str| [base[0], base[1], Step::Key(key)];
        let fields_path = at("fields");
        let fields = match self.node(&fields_path).map(|n| &n.value) {
            Some(Value::Map(entries)) if self.trust.sound(&fields_path) => Some(
                entries
                    .iter()
                    .map(|e| {
                        let path = [base[0], base[1], Step::Key("fields"), Step::Key(&e.key)];
                        (e.key.clone(), self.required(&path))
                    })
                    .collect(),
            ),
            _ => None,
        };
        PartialResource {
            plural: self.optional(&at("plural")),
            owner: self.required(&at("owner")),
            fields,
            access: self.optional(&at("access")),
            hide: self.optional(&at("hide")),
            filters: self.optional(&at("filters")),
            sort: self.optional(&at("sort")),
            throttle: self.optional(&at("throttle")),
            renamed_from: self.optional(&at("renamed_from")),
        }
    }
}

/// The path of the mapping entry whose key is at `span`.
fn key_path(root: &Node, span: Span) -> Option<Path> {
    fn find(node: &Node, span: Span, path: &mut Path) -> bool {
        match &node.value {
            Value::Map(entries) => entries.iter().any(|e| {
                path.push(OwnedStep::Key(e.key.clone()));
                if e.key_span == span || find(&e.value, span, path) {
                    return true;
                }
                path.pop();
                false
            }),
            Value::Seq(items) => items.iter().enumerate().any(|(i, item)| {
                path.push(OwnedStep::Index(i));
                if find(item, span, path) {
                    return true;
                }
                path.pop();
                false
            }),
            _ => false,
        }
    }
    let mut path = Vec::new();
    find(root, span, &mut path).then_some(path)
}

/// The diagnostic of a serde_yaml error, and the path of the value it is
/// about. serde_yaml names the path of the value in its message, but places
/// an error raised while reading a value (a typed scalar's own message) at
/// the start of the enclosing collection, and its path may stop there too:
/// the typed scalar that gives exactly that message is then looked for in
/// that collection.
fn serde_error(source: &SourceFile, root: &Node, error: &serde_yaml::Error) -> (Diagnostic, Path) {
    let full = error.to_string();
    let message = full.split(" at line ").next().unwrap_or(&full);
    let (path, reason) = match message.split_once(": ") {
        Some((p, r)) if !p.is_empty() && !p.contains(' ') => (parse_serde_path(p), r),
        _ => (Vec::new(), message),
    };
    let mut path = path;
    let mut node = locate(root, &path).node;
    if let Some(location) = error.location() {
        let offset = source.offset(location.line(), location.column().saturating_sub(1));
        if let Some((inner, inner_path)) = node_at(root, offset) {
            if inner_path.len() > path.len() {
                node = inner;
                path = inner_path;
            }
        }
    }
    let mut code = Code::InvalidValue;
    if let Some((scalar, scalar_path, scalar_code)) = typed_scalar_failing_with(node, reason) {
        path.extend(scalar_path);
        node = scalar;
        code = scalar_code;
    }
    let names = path_names(&path);
    let message = if names.is_empty() {
        reason.to_string()
    } else {
        format!("invalid {}: {reason}", describe(&names))
    };
    let span = if node.span.is_empty() {
        yaml::char_span(source.text(), node.span.start)
    } else {
        node.span
    };
    (Diagnostic::error(code, message).at(span, "here"), path)
}

/// `cors.origins[1]` as steps.
fn parse_serde_path(text: &str) -> Path {
    let mut path = Vec::new();
    for part in text.split('.') {
        let (key, indexes) = part.split_once('[').map_or((part, ""), |(k, i)| (k, i));
        if !key.is_empty() {
            path.push(OwnedStep::Key(key.to_string()));
        }
        for index in indexes.split('[') {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                path.push(OwnedStep::Index(i));
            }
        }
    }
    path
}

/// The innermost node that starts at `offset`, with its path.
fn node_at(root: &Node, offset: usize) -> Option<(&Node, Path)> {
    fn find<'n>(node: &'n Node, offset: usize, path: &mut Path) -> Option<&'n Node> {
        let children: Vec<(OwnedStep, &Node)> = match &node.value {
            Value::Map(entries) => entries
                .iter()
                .map(|e| (OwnedStep::Key(e.key.clone()), &e.value))
                .collect(),
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, n)| (OwnedStep::Index(i), n))
                .collect(),
            _ => Vec::new(),
        };
        for (step, child) in children {
            path.push(step);
            if let Some(found) = find(child, offset, path) {
                return Some(found);
            }
            path.pop();
        }
        (node.span.start == offset).then_some(node)
    }
    let mut path = Vec::new();
    find(root, offset, &mut path).map(|n| (n, path))
}

/// The string in `node` whose rate, size or origin parse fails with
/// exactly `message`, with its path below `node` and its code.
fn typed_scalar_failing_with<'n>(node: &'n Node, message: &str) -> Option<(&'n Node, Path, Code)> {
    match &node.value {
        Value::String(s) => {
            let failures = [
                (s.parse::<Rate>().err(), Code::InvalidRate),
                (s.parse::<Size>().err(), Code::InvalidSize),
                (s.parse::<Origin>().err(), Code::InvalidOrigin),
            ];
            failures
                .into_iter()
                .find(|(e, _)| e.as_deref() == Some(message))
                .map(|(_, code)| (node, Vec::new(), code))
        }
        Value::Map(entries) => entries.iter().find_map(|e| {
            typed_scalar_failing_with(&e.value, message).map(|(n, mut p, c)| {
                p.insert(0, OwnedStep::Key(e.key.clone()));
                (n, p, c)
            })
        }),
        Value::Seq(items) => items.iter().enumerate().find_map(|(i, item)| {
            typed_scalar_failing_with(item, message).map(|(n, mut p, c)| {
                p.insert(0, OwnedStep::Index(i));
                (n, p, c)
            })
        }),
        _ => None,
    }
}

/// The path of an error as owned steps.
fn steps(error: &ValidationError<'_>) -> Path {
    error
        .instance_path()
        .iter()
        .map(|segment| match segment {
            LocationSegment::Property(p) => OwnedStep::Key(p.to_string()),
            LocationSegment::Index(i) => OwnedStep::Index(i),
        })
        .collect()
}

/// Where an error points: the node, and the span of the key that holds it.
struct Located<'a> {
    node: &'a Node,
    key_span: Option<Span>,
}

fn locate<'a>(root: &'a Node, path: &[OwnedStep]) -> Located<'a> {
    let mut node = root;
    let mut key_span = None;
    for step in path {
        if let OwnedStep::Key(k) = step {
            if let Some(entry) = node.entry(k) {
                key_span = Some(entry.key_span);
            }
        }
        match node.step(step.borrow()) {
            Some(next) => node = next,
            None => break,
        }
    }
    Located { node, key_span }
}

/// A human name for the place a path leads to, for messages.
pub fn describe(path: &[String]) -> String {
    match path {
        [] => "the spec".to_string(),
        [r, name] if r == "resources" => format!("resource `{name}`"),
        [r, res, f, name] if r == "resources" && f == "fields" => {
            format!("field `{name}` of `{res}`")
        }
        [r, res, f, name, rest @ ..] if r == "resources" && f == "fields" => {
            format!("`{}` of field `{name}` in `{res}`", rest.join("."))
        }
        [r, res, rest @ ..] if r == "resources" => format!("`{}` of `{res}`", rest.join(".")),
        _ => format!("`{}`", path.join(".")),
    }
}

fn path_names(path: &[OwnedStep]) -> Vec<String> {
    path.iter()
        .map(|s| match s {
            OwnedStep::Key(k) => k.clone(),
            OwnedStep::Index(i) => i.to_string(),
        })
        .collect()
}

fn type_name(kind: &TypeKind) -> String {
    use jsonschema::JsonType;
    let name = |t: &JsonType| match t {
        JsonType::Array => "a list",
        JsonType::Boolean => "a boolean (`true` or `false`)",
        JsonType::Integer => "a whole number",
        JsonType::Null => "nothing",
        JsonType::Number => "a number",
        JsonType::Object => "a mapping",
        JsonType::String => "a string",
    };
    match kind {
        TypeKind::Single(t) => name(t).to_string(),
        TypeKind::Multiple(types) => {
            let names: Vec<&str> = types
                .iter()
                .filter(|t| *t != JsonType::Null)
                .map(|t| name(&t))
                .collect();
            names.join(" or ")
        }
    }
}

/// The schema that an error's keyword belongs to.
fn keyword_owner(error: &ValidationError<'_>) -> Option<&'static serde_json::Value> {
    let schema_path = error.schema_path().as_str();
    let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
    schema::resolve(parent)
}

/// The property names a schema location allows, for suggestions.
fn allowed_keys(error: &ValidationError<'_>) -> Vec<&'static str> {
    keyword_owner(error)
        .and_then(|s| s.get("properties"))
        .and_then(|p| p.as_object())
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// The error is about a value that should be a rate.
fn expects_rate(error: &ValidationError<'_>) -> bool {
    keyword_owner(error)
        .and_then(|s| s.get("pattern"))
        .is_some_and(|p| p == Rate::PATTERN)
}

/// A description of a property as one line, for help text.
fn one_line(description: &str) -> String {
    description.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A number as written in a message.
fn number_text(node: &Node) -> String {
    match &node.value {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        _ => node.to_json().to_string(),
    }
}

fn number_value(node: &Node) -> Option<f64> {
    match &node.value {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// Converts one schema error into diagnostics, and records where it is.
fn convert(root: &Node, error: &ValidationError<'_>, structure: &mut Structure) {
    let path = steps(error);
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for key in unexpected {
                let mut p = path.clone();
                p.push(OwnedStep::Key(key.clone()));
                structure.errors.push(p);
            }
            structure.open.push(path.clone());
        }
        ValidationErrorKind::Required { property } => {
            let mut p = path.clone();
            p.push(OwnedStep::Key(
                property.as_str().unwrap_or_default().to_string(),
            ));
            structure.errors.push(p);
        }
        // The alternatives record their own errors (see convert_alternatives).
        ValidationErrorKind::AnyOf { .. } | ValidationErrorKind::OneOfNotValid { .. } => {}
        _ => structure.errors.push(path.clone()),
    }
    let out = &mut structure.diagnostics;
    let names = path_names(&path);
    let here = locate(root, &path);
    let value_span = here.node.span;
    let schema_path = error.schema_path().as_str().to_string();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_keys(error);
            // Found by name at once, however many keys the mapping has.
            let key_spans: std::collections::HashMap<&str, Span> = match &here.node.value {
                Value::Map(entries) => entries
                    .iter()
                    .map(|e| (e.key.as_str(), e.key_span))
                    .collect(),
                _ => Default::default(),
            };
            for key in unexpected {
                let span = key_spans.get(key.as_str()).copied().unwrap_or(value_span);
                let suggestion = did_you_mean(key, allowed.iter().copied());
                let help = match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if allowed.is_empty() => "remove it".to_string(),
                    None => format!("the keys allowed here are: {}", quoted_list(&allowed)),
                };
                out.push(
                    Diagnostic::error(
                        Code::UnknownKey,
                        format!("unknown key `{key}` in {}", describe(&names)),
                    )
                    .at(span, "unknown key")
                    .with_help(help),
                );
            }
        }
        ValidationErrorKind::Required { property } => {
            let property = property.as_str().unwrap_or_default();
            // A missing top-level key belongs to the document, which starts
            // at its first key (after any leading comments).
            let span = here.key_span.unwrap_or_else(|| match &root.value {
                Value::Map(entries) if !entries.is_empty() && path.is_empty() => {
                    entries[0].key_span
                }
                _ => here.node.span,
            });
            let description = schema::resolve(&format!(
                "{}/properties/{property}",
                schema_path.trim_end_matches("/required")
            ))
            .and_then(|s| s.get("description"))
            .and_then(|d| d.as_str())
            .map(one_line);
            let mut diagnostic = Diagnostic::error(
                Code::MissingKey,
                format!("missing key `{property}` in {}", describe(&names)),
            )
            .at(span, format!("`{property}` is required here"));
            if let Some(d) = description {
                diagnostic = diagnostic.with_help(format!("`{property}`: {d}"));
            }
            out.push(diagnostic);
        }
        ValidationErrorKind::Type { .. } if expects_rate(error) => {
            out.push(not_a_rate(here.node, &names));
        }
        ValidationErrorKind::Type { kind }
            if matches!(here.node.value, Value::Float(f) if !f.is_finite())
                && type_name(kind).contains("number") =>
        {
            let written = match here.node.value {
                Value::Float(f) => yaml::non_finite_text(f),
                _ => "",
            };
            out.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!(
                        "{} must be a finite number, not `{written}`",
                        describe(&names)
                    ),
                )
                .at(value_span, "not finite"),
            );
        }
        ValidationErrorKind::Type { kind } => {
            out.push(
                Diagnostic::error(
                    Code::WrongType,
                    format!(
                        "expected {} for {}, found {}",
                        type_name(kind),
                        describe(&names),
                        here.node.kind()
                    ),
                )
                .at(value_span, format!("expected {}", type_name(kind))),
            );
        }
        ValidationErrorKind::Enum { options } => {
            let allowed: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            out.push(not_one_of(here.node, &names, &allowed));
        }
        ValidationErrorKind::Constant { expected_value } => {
            let allowed = vec![
                expected_value
                    .as_str()
                    .map_or_else(|| expected_value.to_string(), str::to_string),
            ];
            out.push(not_one_of(here.node, &names, &allowed));
        }
        ValidationErrorKind::Pattern { pattern } => {
            let text = match &here.node.value {
                Value::String(s) => s.clone(),
                _ => String::new(),
            };
            out.push(pattern_mismatch(&text, pattern, &names, value_span));
        }
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => {
            let value = number_value(here.node).unwrap_or(f64::NAN);
            let d = validate::bound_error(&names, value, &number_text(here.node), value_span)
                .unwrap_or_else(|| {
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!(
                            "{} is too small for {}: the least allowed is {limit}",
                            json_text(here.node),
                            describe(&names)
                        ),
                    )
                    .at(value_span, "too small")
                });
            out.push(d);
        }
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => {
            let value = number_value(here.node).unwrap_or(f64::NAN);
            let d = validate::bound_error(&names, value, &number_text(here.node), value_span)
                .unwrap_or_else(|| {
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!(
                            "{} is too large for {}: the most allowed is {limit}",
                            json_text(here.node),
                            describe(&names)
                        ),
                    )
                    .at(value_span, "too large")
                });
            out.push(d);
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            convert_alternatives(root, here.node, &path, context, structure);
        }
        _ => {
            out.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("invalid {}: {}", describe(&names), error),
                )
                .at(value_span, "here"),
            );
        }
    }
}

/// A number where a rate belongs: it lacks its unit.
fn not_a_rate(node: &Node, names: &[String]) -> Diagnostic {
    let text = match &node.value {
        Value::Int(_) | Value::Float(_) => format!("`{}`", number_text(node)),
        _ => json_text(node),
    };
    let mut d = Diagnostic::error(
        Code::WrongType,
        format!(
            "{text} is not a rate for {}: a rate needs a unit of time",
            describe(names)
        ),
    )
    .at(node.span, "no unit");
    d = match &node.value {
        Value::Int(n) if *n > 0 => d.with_help(format!(
            "did you mean `{n}/minute`? (units: second, minute, hour, day)"
        )),
        _ => d.with_help("write a rate such as `30/minute` (units: second, minute, hour, day)"),
    };
    d
}

/// A string that does not match its schema's pattern.
fn pattern_mismatch(text: &str, pattern: &str, names: &[String], span: Span) -> Diagnostic {
    let typed = if pattern == Rate::PATTERN {
        text.parse::<Rate>().err().map(|e| (Code::InvalidRate, e))
    } else if pattern == Size::PATTERN {
        text.parse::<Size>().err().map(|e| (Code::InvalidSize, e))
    } else if pattern == Origin::PATTERN {
        text.parse::<Origin>()
            .err()
            .map(|e| (Code::InvalidOrigin, e))
    } else {
        None
    };
    if let Some((code, message)) = typed {
        return Diagnostic::error(code, message).at(span, "here");
    }
    if pattern == spec::SERVICE_NAME_PATTERN {
        let message = if text.is_empty() {
            "the service name is empty".to_string()
        } else {
            format!("`{text}` is not a valid service name: expected `[a-z][a-z0-9_-]*`")
        };
        let help = name_fix(text, true)
            .map(|f| format!("did you mean `{f}`?"))
            .unwrap_or_else(|| {
                "use lowercase letters, digits, `_` and `-`, starting with a letter".to_string()
            });
        return Diagnostic::error(Code::InvalidName, message)
            .at(span, "invalid name")
            .with_help(help);
    }
    if pattern == spec::ENV_NAME_PATTERN {
        let fixed: String = text
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        let fixed = if fixed.starts_with(|c: char| c.is_ascii_digit()) {
            format!("_{fixed}")
        } else {
            fixed
        };
        let mut d = Diagnostic::error(
            Code::InvalidValue,
            format!(
                "`{text}` is not a valid environment variable name for {}: expected uppercase letters, digits and `_`",
                describe(names)
            ),
        )
        .at(span, "invalid name");
        if !fixed.is_empty() && fixed != text {
            d = d.with_help(format!("did you mean `{fixed}`?"));
        }
        return d;
    }
    Diagnostic::error(
        Code::InvalidValue,
        format!(
            "`{text}` is not valid for {}: it must match `{pattern}`",
            describe(names)
        ),
    )
    .at(span, "here")
}

/// Errors of `anyOf`/`oneOf`: when every branch only lists allowed values,
/// one "expected one of" diagnostic; otherwise the errors of the branch that
/// came closest (the one that did not fail on the type of the value itself).
fn convert_alternatives(
    root: &Node,
    node: &Node,
    path: &[OwnedStep],
    context: &[Vec<ValidationError<'static>>],
    structure: &mut Structure,
) {
    let names = &path_names(path)[..];
    let mut constants = Vec::new();
    let only_constants = context.iter().flatten().all(|e| match e.kind() {
        ValidationErrorKind::Constant { expected_value } => {
            constants.extend(expected_value.as_str().map(str::to_string));
            true
        }
        ValidationErrorKind::Enum { options } => {
            constants.extend(
                options
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string)),
            );
            true
        }
        _ => false,
    });
    if only_constants && !constants.is_empty() {
        structure.errors.push(path.to_vec());
        structure
            .diagnostics
            .push(not_one_of(node, names, &constants));
        return;
    }
    let own_path = names.len();
    let fails_on_type = |branch: &Vec<ValidationError<'static>>| {
        branch.iter().any(|e| {
            matches!(e.kind(), ValidationErrorKind::Type { .. }) && steps(e).len() == own_path
        })
    };
    let best = context
        .iter()
        .filter(|b| !fails_on_type(b))
        .min_by_key(|b| b.len())
        .or_else(|| context.first());
    match best {
        Some(branch) if !fails_on_type(branch) => {
            for e in branch {
                convert(root, e, structure);
            }
        }
        _ if context.iter().flatten().any(|e| expects_rate(e)) => {
            structure.errors.push(path.to_vec());
            structure.diagnostics.push(not_a_rate(node, names));
        }
        _ => {
            let expected: Vec<String> = context
                .iter()
                .flatten()
                .filter_map(|e| match e.kind() {
                    ValidationErrorKind::Type { kind } => Some(type_name(kind)),
                    _ => None,
                })
                .filter(|t| !t.is_empty() && t != "nothing")
                .collect();
            let mut expected_unique = Vec::new();
            for e in expected {
                if !expected_unique.contains(&e) {
                    expected_unique.push(e);
                }
            }
            let expected = expected_unique.join(" or ");
            structure.errors.push(path.to_vec());
            structure.diagnostics.push(
                Diagnostic::error(
                    Code::WrongType,
                    format!(
                        "expected {expected} for {}, found {}",
                        describe(names),
                        node.kind()
                    ),
                )
                .at(node.span, format!("expected {expected}")),
            );
        }
    }
}

fn not_one_of(node: &Node, names: &[String], allowed: &[String]) -> Diagnostic {
    let found = json_text(node);
    let suggestion = match &node.value {
        Value::String(s) => did_you_mean(s, allowed.iter().map(String::as_str)),
        _ => None,
    };
    let allowed_refs: Vec<&str> = allowed.iter().map(String::as_str).collect();
    let what = names.last().map_or("value", String::as_str);
    let message = if what.parse::<usize>().is_ok() {
        format!(
            "{found} is not allowed in {}",
            describe(&names[..names.len() - 1])
        )
    } else {
        format!(
            "{found} is not a valid `{what}` for {}",
            describe(&names[..names.len().saturating_sub(1)])
        )
    };
    let mut diagnostic = Diagnostic::error(Code::InvalidValue, message).at(
        node.span,
        format!("expected one of {}", quoted_list(&allowed_refs)),
    );
    if let Some(s) = suggestion {
        diagnostic = diagnostic.with_help(format!("did you mean `{s}`?"));
    } else if what == "algorithm" {
        diagnostic = diagnostic.with_help("the algorithm is pinned by the server; `none` and unknown algorithms are never accepted");
    }
    diagnostic
}

fn json_text(node: &Node) -> String {
    match &node.value {
        Value::String(s) => format!("`{s}`"),
        Value::Seq(_) | Value::Map(_) => node.kind().to_string(),
        _ => format!("`{}`", node.to_json()),
    }
}

pub(crate) fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "palisade: 1\nservice: { name: notes }\nauth:\n  jwt: { algorithm: HS256, secret_env: JWT_SECRET }\n";

    fn tree(text: &str) -> (SourceFile, Node) {
        let source = SourceFile::new("t.yaml", text);
        let (root, diagnostics) = yaml::parse(&source);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        (source, root.unwrap())
    }

    fn at(source: &SourceFile, d: &Diagnostic) -> String {
        source.text()[d.span().start..d.span().end].to_string()
    }

    #[test]
    fn typed_scalars_are_checked_at_their_own_span_next_to_other_errors() {
        let text = format!(
            "{HEAD}cors:\n  origins: [https://a.example.com/, 'https://B.example.com']\n  credentials: maybe\nthrottle: {{ anon: 0/hour, user: 99999999999/s }}\nlimits: {{ max_body: 99999999999999999999MiB, max_page_size: 10.0 }}\nresources:\n  note:\n    owner: owner_id\n    fields:\n      n: {{ type: number, min: .inf, max_length: 5.0 }}\n"
        );
        let (source, root) = tree(&text);
        let found: Vec<(Code, String)> = check_structure(&root, source.text())
            .iter()
            .map(|d| (d.code, at(&source, d)))
            .collect();
        for expected in [
            (Code::InvalidOrigin, "https://a.example.com/"),
            (Code::InvalidOrigin, "'https://B.example.com'"),
            (Code::WrongType, "maybe"),
            (Code::InvalidRate, "0/hour"),
            (Code::InvalidRate, "99999999999/s"),
            (Code::InvalidSize, "99999999999999999999MiB"),
            (Code::WrongType, "10.0"),
            (Code::InvalidValue, ".inf"),
            (Code::WrongType, "5.0"),
        ] {
            let expected = (expected.0, expected.1.to_string());
            assert!(found.contains(&expected), "{expected:?} not in {found:?}");
        }
        assert_eq!(found.len(), 9, "{found:?}");
    }

    #[test]
    fn a_spec_that_passes_the_structure_deserializes() {
        for extra in [
            "limits: { max_body: 1024, max_page_size: 10 }\n",
            "cors: { origins: ['*'], max_age_seconds: 600 }\n",
            "throttle: { anon: 5/s, user: 10 / min, trust_proxy_hops: 2 }\n",
        ] {
            let text = format!(
                "{HEAD}{extra}resources:\n  note:\n    owner: owner_id\n    fields:\n      n: {{ type: number, min: 1.5, default: 2 }}\n"
            );
            let parsed = parse(&SourceFile::new("t.yaml", text.as_str()));
            assert!(parsed.is_ok(), "{text}: {:?}", parsed.err());
        }
    }

    #[test]
    fn serde_errors_point_at_the_value_they_are_about() {
        // serde_yaml places this error at the start of the list and names
        // only the list; the origin that gives its message is found.
        let text = format!(
            "{HEAD}cors:\n  origins:\n    - https://ok.example.com\n    - https://bad.example.com/\nresources: {{}}\n"
        );
        let (source, root) = tree(&text);
        let error = serde_yaml::from_str::<Spec>(source.text()).unwrap_err();
        let (d, path) = serde_error(&source, &root, &error);
        assert_eq!(d.code, Code::InvalidOrigin);
        assert_eq!(at(&source, &d), "https://bad.example.com/");
        assert_eq!(path_names(&path), ["cors", "origins", "1"]);
        // A type error is located by serde_yaml itself.
        let text = format!(
            "{HEAD}resources:\n  note:\n    owner: owner_id\n    fields: {{ n: {{ type: string, max_length: 2.0 }} }}\n"
        );
        let (source, root) = tree(&text);
        let error = serde_yaml::from_str::<Spec>(source.text()).unwrap_err();
        let (d, _) = serde_error(&source, &root, &error);
        assert_eq!(at(&source, &d), "2.0");
    }

    #[test]
    fn trust_knows_what_a_structural_error_leaves_sound() {
        let text = "a:\n  b: 1\n  c: [1, x]\n  typo: 2\nd: {e: 1}\n";
        let (_, root) = tree(text);
        let key = |k: &'static str| OwnedStep::Key(k.to_string());
        let trust = Trust::new(
            &root,
            vec![
                vec![key("a"), key("c"), OwnedStep::Index(1)],
                vec![key("a"), key("typo")],
            ],
            vec![vec![key("a")]],
        );
        let k = Step::Key;
        assert!(trust.sound(&[k("a")]));
        assert!(!trust.clean(&[k("a")]));
        assert!(trust.sound(&[k("a"), k("b")]));
        // A list with a bad item is not read at all.
        assert!(!trust.sound(&[k("a"), k("c")]));
        assert!(!trust.sound(&[k("a"), k("c"), Step::Index(0)]));
        // Absent next to an unknown key: perhaps misspelt.
        assert!(!trust.sound(&[k("a"), k("absent")]));
        assert!(trust.sound(&[k("d"), k("absent")]));
        assert!(trust.clean(&[k("d")]));
        assert!(Trust::complete().clean(&[k("anything")]));
    }

    #[test]
    fn the_sound_parts_of_a_broken_spec_are_read() {
        let text = format!(
            "{HEAD}rolse: [admin]\nlimits: {{ default_page_size: 0, max_page_size: 50 }}\nresources:\n  note:\n    owner: owner_id\n    fields:\n      a: {{ type: strng }}\n      b: {{ type: string, max_length: 5 }}\n    filters: [a, b]\n"
        );
        let (_, root) = tree(&text);
        let mut structure = Structure::check(&root);
        assert_eq!(
            structure.diagnostics.len(),
            3,
            "{:?}",
            structure.diagnostics
        );
        let trust = Trust::new(&root, std::mem::take(&mut structure.errors), structure.open);
        let partial = read_partial(&root, &trust);
        assert_eq!(partial.palisade, Some(1));
        assert!(partial.service.is_some() && partial.auth.is_some());
        // `rolse` may be `roles` misspelt: roles are unknown, not empty.
        assert!(partial.roles.is_none());
        let limits = partial.limits.flatten().unwrap();
        assert_eq!(limits.default_page_size, None);
        assert_eq!(limits.max_page_size, Some(50));
        let note = &partial.resources.unwrap()["note"];
        let fields = note.fields.as_ref().unwrap();
        assert!(fields["a"].is_none());
        assert_eq!(fields["b"].as_ref().unwrap().max_length, Some(5));
        assert_eq!(
            note.filters.as_deref(),
            Some(&["a".to_string(), "b".to_string()][..])
        );
        assert!(matches!(note.access, Some(None)));
    }

    #[test]
    fn missing_key_help_is_the_whole_description() {
        let (source, root) = tree("# comment\nservice: { name: notes }\n");
        let diagnostics = check_structure(&root, source.text());
        let palisade = diagnostics
            .iter()
            .find(|d| d.message.contains("`palisade`"))
            .unwrap();
        assert_eq!(at(&source, palisade), "service");
        let auth = diagnostics
            .iter()
            .find(|d| d.message.contains("`resources`"))
            .unwrap();
        let help = auth.help.as_deref().unwrap();
        assert!(help.ends_with("routes under `/{plural}`."), "{help}");
        assert!(!help.contains('\n'));
    }
}
