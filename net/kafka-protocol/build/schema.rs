//! The message schemas as the generator sees them: Kafka's JSON (with `//`
//! comments stripped) turned into [`Message`]s whose fields carry parsed
//! version ranges and types. Anything the generator does not understand is a
//! build error naming the schema, never a silent guess.

use serde_json::Value;

/// An inclusive version range; `lo > hi` is the empty range ("none").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    pub lo: i16,
    pub hi: i16,
}

impl Versions {
    pub const NONE: Versions = Versions { lo: 1, hi: 0 };

    /// Parses "none", "N", "N+" and "N-M".
    pub fn parse(s: &str) -> Result<Versions, String> {
        let s = s.trim();
        if s == "none" {
            return Ok(Versions::NONE);
        }
        let num = |t: &str| t.trim().parse::<i16>().map_err(|e| format!("bad version `{s}`: {e}"));
        if let Some(lo) = s.strip_suffix('+') {
            return Ok(Versions { lo: num(lo)?, hi: i16::MAX });
        }
        if let Some((lo, hi)) = s.split_once('-') {
            return Ok(Versions { lo: num(lo)?, hi: num(hi)? });
        }
        let v = num(s)?;
        Ok(Versions { lo: v, hi: v })
    }

    pub fn is_empty(self) -> bool {
        self.lo > self.hi
    }

    pub fn intersect(self, other: Versions) -> Versions {
        Versions { lo: self.lo.max(other.lo), hi: self.hi.min(other.hi) }
    }

    /// A Rust boolean expression: is `version` in this range?
    pub fn test(self, var: &str) -> String {
        if self.is_empty() {
            "false".to_string()
        } else if self.hi == i16::MAX {
            if self.lo <= 0 {
                "true".to_string()
            } else {
                format!("{var} >= {}", self.lo)
            }
        } else if self.lo == self.hi {
            format!("{var} == {}", self.lo)
        } else {
            format!("({}..={}).contains(&{var})", self.lo, self.hi)
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint16,
    Uint32,
    Float64,
    String,
    Bytes,
    Records,
    Uuid,
    Array(Box<Ty>),
    Struct(String),
}

impl Ty {
    fn parse(s: &str) -> Ty {
        if let Some(inner) = s.strip_prefix("[]") {
            return Ty::Array(Box::new(Ty::parse(inner)));
        }
        match s {
            "bool" => Ty::Bool,
            "int8" => Ty::Int8,
            "int16" => Ty::Int16,
            "int32" => Ty::Int32,
            "int64" => Ty::Int64,
            "uint16" => Ty::Uint16,
            "uint32" => Ty::Uint32,
            "float64" => Ty::Float64,
            "string" => Ty::String,
            "bytes" => Ty::Bytes,
            "records" => Ty::Records,
            "uuid" => Ty::Uuid,
            other => Ty::Struct(other.to_string()),
        }
    }

    /// Types that may be null on the wire (Kafka allows it for these only).
    pub fn nullable_kind(&self) -> bool {
        matches!(self, Ty::String | Ty::Bytes | Ty::Records | Ty::Array(_))
    }
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub ty: Ty,
    pub versions: Versions,
    pub nullable: Versions,
    pub tag: Option<u32>,
    pub tagged: Versions,
    pub default: Option<String>,
    pub about: String,
}

impl Field {
    /// Versions in which the field is a regular (positional) field.
    pub fn regular_test(&self, var: &str) -> String {
        if self.tag.is_none() {
            return self.versions.test(var);
        }
        // Tagged fields are positional in none of their tagged versions; the
        // schemas in use never mix, so outside taggedVersions they are absent.
        "false".to_string()
    }

    pub fn tagged_versions(&self) -> Versions {
        if self.tag.is_some() {
            self.tagged.intersect(self.versions)
        } else {
            Versions::NONE
        }
    }

    /// Nullable in some version: the Rust type is an `Option`.
    pub fn is_option(&self) -> bool {
        !self.nullable.is_empty() || self.default.as_deref() == Some("null")
    }
}

#[derive(Clone, Debug)]
pub struct StructDef {
    pub name: String,
    pub about: String,
    pub fields: Vec<Field>,
}

#[derive(Clone, Debug)]
pub struct Message {
    pub name: String,
    pub api_key: i16,
    pub valid: Versions,
    pub flexible: Versions,
    /// The top-level struct first, then every nested and common struct.
    pub structs: Vec<StructDef>,
}

/// Drops `//` comments (to end of line) outside string literals.
pub fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut in_str = false;
    let mut escaped = false;
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        if c == '/' && chars.peek() == Some(&'/') {
            for c in chars.by_ref() {
                if c == '\n' {
                    out.push('\n');
                    break;
                }
            }
            continue;
        }
        if c == '"' {
            in_str = true;
        }
        out.push(c);
    }
    out
}

fn str_of<'a>(v: &'a Value, key: &str, ctx: &str) -> Result<&'a str, String> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| format!("{ctx}: missing string `{key}`"))
}

fn parse_fields(list: &Value, ctx: &str, out: &mut Vec<StructDef>) -> Result<Vec<Field>, String> {
    let arr = list.as_array().ok_or_else(|| format!("{ctx}: `fields` is not an array"))?;
    let mut fields = Vec::new();
    for f in arr {
        let name = str_of(f, "name", ctx)?.to_string();
        let fctx = format!("{ctx}.{name}");
        let ty = Ty::parse(str_of(f, "type", &fctx)?);
        let versions = Versions::parse(str_of(f, "versions", &fctx)?)?;
        let nullable = match f.get("nullableVersions").and_then(Value::as_str) {
            Some(s) => Versions::parse(s)?,
            None => Versions::NONE,
        };
        if !nullable.is_empty() && !ty.nullable_kind() {
            return Err(format!("{fctx}: nullable {ty:?} is not supported"));
        }
        if f.get("flexibleVersions").is_some() {
            return Err(format!("{fctx}: per-field flexibleVersions is not supported"));
        }
        let tag = match f.get("tag") {
            Some(t) => Some(t.as_u64().and_then(|t| u32::try_from(t).ok()).ok_or_else(|| format!("{fctx}: bad tag"))?),
            None => None,
        };
        let tagged = match f.get("taggedVersions").and_then(Value::as_str) {
            Some(s) => Versions::parse(s)?,
            None if tag.is_some() => versions,
            None => Versions::NONE,
        };
        let default = f.get("default").map(|d| match d {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let about = f.get("about").and_then(Value::as_str).unwrap_or("").to_string();
        // A struct-typed field with `fields` defines that struct here.
        let elem = match &ty {
            Ty::Array(inner) => inner.as_ref().clone(),
            t => t.clone(),
        };
        if let (Ty::Struct(sname), Some(sub)) = (&elem, f.get("fields")) {
            let sub_fields = parse_fields(sub, &fctx, out)?;
            if out.iter().any(|s| &s.name == sname) {
                return Err(format!("{fctx}: struct {sname} defined twice"));
            }
            out.push(StructDef { name: sname.clone(), about: about.clone(), fields: sub_fields });
        }
        fields.push(Field { name, ty, versions, nullable, tag, tagged, default, about });
    }
    Ok(fields)
}

pub fn parse_message(file: &str, src: &str) -> Result<Message, String> {
    let json: Value = serde_json::from_str(&strip_comments(src)).map_err(|e| format!("{file}: {e}"))?;
    let name = str_of(&json, "name", file)?.to_string();
    let api_key = json
        .get("apiKey")
        .and_then(Value::as_i64)
        .and_then(|k| i16::try_from(k).ok())
        .ok_or_else(|| format!("{file}: bad apiKey"))?;
    let valid = Versions::parse(str_of(&json, "validVersions", file)?)?;
    let flexible = Versions::parse(str_of(&json, "flexibleVersions", file)?)?;
    let mut nested = Vec::new();
    if let Some(common) = json.get("commonStructs").and_then(Value::as_array) {
        for c in common {
            let cname = str_of(c, "name", file)?.to_string();
            let fields = parse_fields(c.get("fields").unwrap_or(&Value::Null), &cname, &mut nested)?;
            nested.push(StructDef { name: cname, about: String::new(), fields });
        }
    }
    let fields = parse_fields(json.get("fields").ok_or_else(|| format!("{file}: no fields"))?, &name, &mut nested)?;
    let mut structs = vec![StructDef { name: name.clone(), about: String::new(), fields }];
    structs.extend(nested);
    let msg = Message { name, api_key, valid, flexible, structs };
    check_struct_refs(&msg)?;
    Ok(msg)
}

fn check_struct_refs(msg: &Message) -> Result<(), String> {
    for s in &msg.structs {
        for f in &s.fields {
            let elem = match &f.ty {
                Ty::Array(inner) => inner.as_ref(),
                t => t,
            };
            if let Ty::Struct(n) = elem {
                if !msg.structs.iter().any(|d| &d.name == n) {
                    return Err(format!("{}: field {} refers to unknown struct {n}", msg.name, f.name));
                }
            }
        }
    }
    Ok(())
}
