//! Emits one Rust module per message: a struct per schema struct (every field
//! of every version), `Default` from the schema defaults, version-aware
//! `decode`/`encode`, and (for tests) a sampler plus a roundtrip property test.
//!
//! The emitted code calls only `Reader`/`Writer` methods, which do every bound
//! check; generated code never slices or does arithmetic on wire values.

use std::fmt::Write;

use crate::schema::{Field, Message, StructDef, Ty, Versions};

/// Schema names that would be Rust keywords in snake case.
const KEYWORDS: &[&str] = &["type", "match", "ref", "self", "struct", "enum", "fn", "mod", "move", "loop", "in"];

pub fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower = i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    if KEYWORDS.contains(&out.as_str()) {
        format!("r#{out}")
    } else {
        out
    }
}

fn scalar_rust(ty: &Ty) -> Option<&'static str> {
    Some(match ty {
        Ty::Bool => "bool",
        Ty::Int8 => "i8",
        Ty::Int16 => "i16",
        Ty::Int32 => "i32",
        Ty::Int64 => "i64",
        Ty::Uint16 => "u16",
        Ty::Uint32 => "u32",
        Ty::Float64 => "f64",
        Ty::Uuid => "Uuid",
        _ => return None,
    })
}

fn elem_rust(ty: &Ty) -> String {
    match ty {
        Ty::String => "String".into(),
        Ty::Bytes => "Bytes".into(),
        Ty::Records => "RecordsData".into(),
        Ty::Struct(n) => n.clone(),
        Ty::Array(inner) => format!("Vec<{}>", elem_rust(inner)),
        other => scalar_rust(other).expect("scalar").into(),
    }
}

fn field_rust(f: &Field) -> String {
    let base = elem_rust(&f.ty);
    if f.is_option() {
        format!("Option<{base}>")
    } else {
        base
    }
}

/// Reader method name suffix for a scalar.
fn scalar_method(ty: &Ty) -> &'static str {
    match ty {
        Ty::Bool => "bool",
        Ty::Int8 => "i8",
        Ty::Int16 => "i16",
        Ty::Int32 => "i32",
        Ty::Int64 => "i64",
        Ty::Uint16 => "u16",
        Ty::Uint32 => "u32",
        Ty::Float64 => "f64",
        Ty::Uuid => "uuid",
        _ => unreachable!("not a scalar"),
    }
}

/// Fewest bytes one value of this type occupies (an expression in `version`
/// and `flexible`): arrays are bounded by `count * min <= bytes left` before
/// anything is allocated.
fn min_elem_size(ty: &Ty) -> String {
    match ty {
        Ty::Bool | Ty::Int8 => "1".into(),
        Ty::Int16 | Ty::Uint16 => "2".into(),
        Ty::Int32 | Ty::Uint32 => "4".into(),
        Ty::Int64 | Ty::Float64 => "8".into(),
        Ty::Uuid => "16".into(),
        Ty::String => "if flexible { 1 } else { 2 }".into(),
        Ty::Bytes | Ty::Records | Ty::Array(_) => "if flexible { 1 } else { 4 }".into(),
        Ty::Struct(n) => format!("{n}::min_wire_size(version)"),
    }
}

fn int_literal(f: &Field, d: &str, rust: &str, ctx: &str) -> Result<String, String> {
    let v: i128 = if let Some(hex) = d.strip_prefix("0x") {
        i128::from_str_radix(hex, 16).map_err(|e| format!("{ctx}: default {d}: {e}"))?
    } else {
        d.parse().map_err(|e| format!("{ctx}: default {d}: {e}"))?
    };
    let (lo, hi): (i128, i128) = match f.ty {
        Ty::Int8 => (i8::MIN.into(), i8::MAX.into()),
        Ty::Int16 => (i16::MIN.into(), i16::MAX.into()),
        Ty::Int32 => (i32::MIN.into(), i32::MAX.into()),
        Ty::Int64 => (i64::MIN.into(), i64::MAX.into()),
        Ty::Uint16 => (0, u16::MAX.into()),
        Ty::Uint32 => (0, u32::MAX.into()),
        _ => unreachable!(),
    };
    if v < lo || v > hi {
        return Err(format!("{ctx}: default {d} out of range"));
    }
    Ok(format!("{v}_{rust}"))
}

/// The field's default value as a Rust expression.
fn default_expr(f: &Field, ctx: &str) -> Result<String, String> {
    let d = f.default.as_deref();
    let opt = f.is_option();
    let wrap = |e: String| if opt { format!("Some({e})") } else { e };
    if d == Some("null") {
        if !opt {
            return Err(format!("{ctx}: default null on a non-nullable field"));
        }
        return Ok("None".into());
    }
    Ok(match &f.ty {
        Ty::Bool => match d {
            None | Some("false") => "false".into(),
            Some("true") => "true".into(),
            Some(o) => return Err(format!("{ctx}: bad bool default {o}")),
        },
        Ty::Int8 | Ty::Int16 | Ty::Int32 | Ty::Int64 | Ty::Uint16 | Ty::Uint32 => {
            int_literal(f, d.unwrap_or("0"), scalar_rust(&f.ty).unwrap_or("i64"), ctx)?
        }
        Ty::Float64 => {
            let v: f64 = d.unwrap_or("0").parse().map_err(|e| format!("{ctx}: {e}"))?;
            format!("{v:?}_f64")
        }
        Ty::Uuid => "Uuid::ZERO".into(),
        Ty::String => wrap(format!("String::from({:?})", d.unwrap_or(""))),
        Ty::Bytes => wrap("Bytes::new()".into()),
        Ty::Records => wrap("RecordsData::default()".into()),
        Ty::Array(_) => {
            if d.is_some_and(|d| !d.is_empty()) {
                return Err(format!("{ctx}: array default {d:?} unsupported"));
            }
            wrap("Vec::new()".into())
        }
        Ty::Struct(n) => format!("{n}::default()"),
    })
}

/// A boolean expression: does `self.<field>` hold its default?
fn is_default_expr(f: &Field, ctx: &str) -> Result<String, String> {
    let name = format!("self.{}", snake(&f.name));
    let d = f.default.as_deref();
    if d == Some("null") {
        return Ok(format!("{name}.is_none()"));
    }
    let opt = f.is_option();
    Ok(match &f.ty {
        Ty::String => {
            let lit = format!("{:?}", d.unwrap_or(""));
            if opt {
                format!("{name}.as_deref() == Some({lit})")
            } else {
                format!("{name}.as_str() == {lit}")
            }
        }
        Ty::Bytes | Ty::Records | Ty::Array(_) => {
            if opt {
                format!("{name}.as_ref().is_some_and(|v| v.is_empty())")
            } else {
                format!("{name}.is_empty()")
            }
        }
        _ => format!("{name} == {}", default_expr(f, ctx)?),
    })
}

/// Decoding expression for one value of a non-optional element type.
fn decode_elem(ty: &Ty) -> String {
    match ty {
        Ty::String => "r.string(flexible)?".into(),
        Ty::Bytes => "r.bytes(flexible)?".into(),
        Ty::Records => "r.records(flexible)?".into(),
        Ty::Struct(n) => format!("{n}::decode(r, version)?"),
        Ty::Array(inner) => decode_array(inner),
        other => format!("r.{}()?", scalar_method(other)),
    }
}

fn decode_array(inner: &Ty) -> String {
    format!(
        "{{ let n = r.array_len(flexible, {min})?; let mut v = Vec::with_capacity(n.min(PREALLOC_ELEMS)); \
         for _ in 0..n {{ v.push({elem}); }} v }}",
        min = min_elem_size(inner),
        elem = decode_elem(inner)
    )
}

/// Decoding expression for a field's value (its Rust type).
fn decode_field(f: &Field) -> String {
    if !f.is_option() {
        return decode_elem(&f.ty);
    }
    let nullable = f.nullable.test("version");
    match &f.ty {
        Ty::String => format!("r.nullable_string(flexible, {nullable})?"),
        Ty::Bytes => format!("r.nullable_bytes(flexible, {nullable})?"),
        Ty::Records => format!("r.nullable_records(flexible, {nullable})?"),
        Ty::Array(inner) => format!(
            "match r.nullable_array_len(flexible, {nullable}, {min})? {{ None => None, Some(n) => {{ \
             let mut v = Vec::with_capacity(n.min(PREALLOC_ELEMS)); for _ in 0..n {{ v.push({elem}); }} Some(v) }} }}",
            min = min_elem_size(inner),
            elem = decode_elem(inner)
        ),
        other => unreachable!("option of {other:?}"),
    }
}

/// Encoding statements for one value `x` (a reference) of an element type.
fn encode_elem(ty: &Ty, x: &str) -> String {
    match ty {
        Ty::String => format!("w.put_string({x}, flexible);"),
        Ty::Bytes => format!("w.put_bytes({x}, flexible);"),
        Ty::Records => format!("w.put_records({x}, flexible);"),
        Ty::Struct(_) => format!("({x}).encode(w, version);"),
        Ty::Array(inner) => {
            format!("w.put_array_len(({x}).len(), flexible); for e in ({x}).iter() {{ {} }}", encode_elem(inner, "e"))
        }
        other => format!("w.put_{}(*{x});", scalar_method(other)),
    }
}

fn encode_field(f: &Field) -> String {
    let x = format!("&self.{}", snake(&f.name));
    if !f.is_option() {
        return encode_elem(&f.ty, &x);
    }
    let nullable = f.nullable.test("version");
    match &f.ty {
        Ty::String => format!("w.put_nullable_string(self.{}.as_deref(), flexible, {nullable});", snake(&f.name)),
        Ty::Bytes => format!("w.put_nullable_bytes(self.{}.as_ref(), flexible, {nullable});", snake(&f.name)),
        Ty::Records => format!("w.put_nullable_records(self.{}.as_ref(), flexible, {nullable});", snake(&f.name)),
        Ty::Array(inner) => format!(
            "match {x} {{ None => w.put_null_array(flexible, {nullable}), Some(v) => {{ \
             w.put_array_len(v.len(), flexible); for e in v.iter() {{ {} }} }} }}",
            encode_elem(inner, "e")
        ),
        other => unreachable!("option of {other:?}"),
    }
}

fn sample_elem(ty: &Ty) -> String {
    match ty {
        Ty::String => "g.string()".into(),
        Ty::Bytes => "g.bytes()".into(),
        Ty::Records => "g.records()".into(),
        Ty::Struct(n) => format!("{n}::sample(g, version)"),
        Ty::Array(inner) => format!("(0..g.len()).map(|_| {}).collect()", sample_elem(inner)),
        other => format!("g.{}()", scalar_method(other)),
    }
}

fn sample_field(f: &Field) -> String {
    let v = sample_elem(&f.ty);
    if f.is_option() {
        format!("if ({}) && g.bool() {{ None }} else {{ Some({v}) }}", f.nullable.test("version"))
    } else {
        v
    }
}

fn doc(out: &mut String, indent: &str, text: &str) {
    if !text.is_empty() {
        let _ = writeln!(out, "{indent}/// {}", text.replace('\n', " "));
    }
}

fn emit_struct(out: &mut String, msg: &Message, s: &StructDef, top: bool) -> Result<(), String> {
    let ctx = format!("{}.{}", msg.name, s.name);
    if top {
        let _ = writeln!(
            out,
            "/// Kafka `{}` (api key {}, versions {}-{}, flexible from {}), generated from its JSON schema.\n///\n/// I/O-free; used on any core.",
            msg.name,
            msg.api_key,
            msg.valid.lo,
            msg.valid.hi,
            if msg.flexible.is_empty() { "never".to_string() } else { msg.flexible.lo.to_string() }
        );
    } else {
        doc(out, "", &s.about);
        let _ = writeln!(out, "///\n/// Part of [`{}`]. I/O-free; used on any core.", msg.name);
    }
    let _ = writeln!(out, "#[derive(Debug, Clone, PartialEq)]\npub struct {} {{", s.name);
    for f in &s.fields {
        doc(out, "    ", &f.about);
        let mut vers = format!("Versions {}", range_text(f.versions));
        if let Some(t) = f.tag {
            let _ = write!(vers, ", tag {t} in {}", range_text(f.tagged_versions()));
        }
        if !f.nullable.is_empty() {
            let _ = write!(vers, ", nullable {}", range_text(f.nullable));
        }
        let _ = writeln!(out, "    ///\n    /// {vers}.");
        let _ = writeln!(out, "    pub {}: {},", snake(&f.name), field_rust(f));
    }
    out.push_str("}\n\n");

    let _ = writeln!(out, "impl Default for {} {{\n    fn default() -> Self {{\n        {} {{", s.name, s.name);
    for f in &s.fields {
        let _ = writeln!(out, "            {}: {},", snake(&f.name), default_expr(f, &ctx)?);
    }
    out.push_str("        }\n    }\n}\n\n");

    let mut tagged: Vec<&Field> = s.fields.iter().filter(|f| !f.tagged_versions().is_empty()).collect();
    tagged.sort_by_key(|f| f.tag);
    for pair in tagged.windows(2) {
        if pair[0].tag == pair[1].tag {
            return Err(format!("{ctx}: duplicate tag {:?}", pair[0].tag));
        }
    }
    let flex = msg.flexible.test("version");

    let _ = writeln!(out, "impl {} {{", s.name);
    if top {
        let _ = writeln!(
            out,
            "    /// Api key of this message.\n    pub const API_KEY: i16 = {};\n    /// Versions the schema defines.\n    pub const VERSIONS: (i16, i16) = ({}, {});\n\n    /// Does `version` use the flexible (compact + tagged fields) encoding?\n    pub fn is_flexible(version: i16) -> bool {{\n        {flex}\n    }}\n",
            msg.api_key, msg.valid.lo, msg.valid.hi
        );
    }
    // decode
    let _ = writeln!(
        out,
        "    /// Decodes the message body at `version`; every length is bounded by the bytes left.\n    pub fn decode(r: &mut Reader, version: i16) -> Result<Self, DecodeError> {{"
    );
    if top {
        let _ = writeln!(
            out,
            "        if !({}) {{\n            return Err(DecodeError::UnsupportedVersion {{ api_key: {}, version }});\n        }}",
            msg.valid.test("version"),
            msg.api_key
        );
    }
    let _ = writeln!(
        out,
        "        let flexible = {flex};\n        let _ = flexible;\n        let mut this = Self::default();"
    );
    for f in &s.fields {
        let cond = f.regular_test("version");
        if cond == "false" {
            continue;
        }
        let _ = writeln!(
            out,
            "        if {cond} {{\n            this.{} = {};\n        }}",
            snake(&f.name),
            decode_field(f)
        );
    }
    out.push_str("        if flexible {\n            let count = r.tagged_count()?;\n            for _ in 0..count {\n                let (tag, mut sub) = r.tagged_field()?;\n                match tag {\n");
    for f in &tagged {
        let _ = writeln!(
            out,
            "                    {} if {} => {{\n                        let r = &mut sub;\n                        this.{} = {};\n                        r.expect_tagged_end(tag)?;\n                    }}",
            f.tag.unwrap_or(0),
            f.tagged_versions().test("version"),
            snake(&f.name),
            decode_field(f)
        );
    }
    out.push_str(
        "                    _ => {}\n                }\n            }\n        }\n        Ok(this)\n    }\n\n",
    );

    // encode
    let _ = writeln!(
        out,
        "    /// Encodes the message body at `version`. Fields the version lacks are left out (see the crate doc);\n    /// tagged fields are written only when they differ from their default.\n    pub fn encode(&self, w: &mut Writer, version: i16) {{"
    );
    if top {
        let _ = writeln!(
            out,
            "        if !({}) {{\n            w.fail(EncodeError::UnsupportedVersion {{ api_key: {}, version }});\n            return;\n        }}",
            msg.valid.test("version"),
            msg.api_key
        );
    }
    let _ = writeln!(out, "        let flexible = {flex};\n        let _ = flexible;");
    for f in &s.fields {
        let cond = f.regular_test("version");
        if cond == "false" {
            continue;
        }
        let _ = writeln!(out, "        if {cond} {{\n            {}\n        }}", encode_field(f));
    }
    out.push_str("        if flexible {\n            let mut count = 0usize;\n");
    for f in &tagged {
        let _ = writeln!(
            out,
            "            if ({}) && !({}) {{\n                count += 1;\n            }}",
            f.tagged_versions().test("version"),
            is_default_expr(f, &ctx)?
        );
    }
    out.push_str("            w.put_tag_count(count);\n");
    for f in &tagged {
        let _ = writeln!(
            out,
            "            if ({}) && !({}) {{\n                let mut sub = w.sub_writer();\n                {{\n                    let w = &mut sub;\n                    {}\n                }}\n                w.put_tagged({}, sub);\n            }}",
            f.tagged_versions().test("version"),
            is_default_expr(f, &ctx)?,
            encode_field(f),
            f.tag.unwrap_or(0)
        );
    }
    out.push_str("        }\n    }\n\n");

    // smallest encoding, for array bounds
    let _ = writeln!(
        out,
        "    /// Fewest bytes one value takes at `version`: every positional field at\n    /// its smallest (empty or null), plus the tagged-field count when flexible.\n    pub fn min_wire_size(version: i16) -> usize {{\n        let flexible = {flex};\n        let mut n = usize::from(flexible);"
    );
    for f in &s.fields {
        let cond = f.regular_test("version");
        if cond == "false" {
            continue;
        }
        let _ = writeln!(out, "        if {cond} {{\n            n += {};\n        }}", min_elem_size(&f.ty));
    }
    out.push_str("        n\n    }\n\n");

    // sampler (tests only)
    let _ = writeln!(
        out,
        "    /// A random value that is valid at `version` (fields the version lacks keep their default).\n    #[cfg(test)]\n    pub(crate) fn sample(g: &mut crate::sample::Sampler, version: i16) -> Self {{\n        let mut this = Self::default();\n        let _ = &mut *g;"
    );
    for f in &s.fields {
        let cond = format!("({}) || ({})", f.regular_test("version"), f.tagged_versions().test("version"));
        let _ = writeln!(
            out,
            "        if {cond} {{\n            this.{} = {};\n        }}",
            snake(&f.name),
            sample_field(f)
        );
    }
    out.push_str("        this\n    }\n}\n\n");
    Ok(())
}

/// The reader bounds an array by at least one byte per element (so a count
/// of empty elements cannot loop for free): check that every struct element
/// is at least one byte long at every version its array exists (a
/// positional field, or the tagged-field count when flexible).
fn check_struct_elements_take_a_byte(msg: &Message) -> Result<(), String> {
    let in_range = |v: Versions, version: i16| !v.is_empty() && v.lo <= version && version <= v.hi;
    for s in &msg.structs {
        for f in &s.fields {
            let Ty::Array(inner) = &f.ty else { continue };
            let Ty::Struct(name) = inner.as_ref() else { continue };
            let Some(elem) = msg.structs.iter().find(|d| &d.name == name) else { continue };
            let present = f.versions.intersect(msg.valid);
            if present.is_empty() {
                continue;
            }
            for version in present.lo..=present.hi {
                let positional = elem.fields.iter().any(|e| e.tag.is_none() && in_range(e.versions, version));
                if !positional && !in_range(msg.flexible, version) {
                    return Err(format!("{}: {name} elements are empty at version {version}", msg.name));
                }
            }
        }
    }
    Ok(())
}

fn range_text(v: Versions) -> String {
    if v.is_empty() {
        "none".into()
    } else if v.hi == i16::MAX {
        format!("{}+", v.lo)
    } else if v.lo == v.hi {
        format!("{}", v.lo)
    } else {
        format!("{}-{}", v.lo, v.hi)
    }
}

/// The module for one message; `supported` is the version range the
/// roundtrip property test covers.
pub fn emit_message(msg: &Message, module: &str, supported: (i16, i16)) -> Result<String, String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "/// `{}` and its nested structs.\npub mod {module} {{\n#![allow(clippy::all, unused_comparisons, unused_mut, unused_variables, unused_imports)]\nuse bytes::Bytes;\nuse crate::limits::PREALLOC_ELEMS;\nuse crate::{{DecodeError, EncodeError, Reader, RecordsData, Uuid, Writer}};\n",
        msg.name
    );
    check_struct_elements_take_a_byte(msg)?;
    for (i, s) in msg.structs.iter().enumerate() {
        emit_struct(&mut out, msg, s, i == 0)?;
    }
    let _ = writeln!(
        out,
        "#[cfg(test)]\nmod roundtrip {{\n    use super::*;\n    proptest::proptest! {{\n        #[test]\n        fn every_supported_version(seed: u64) {{\n            for version in {lo}..={hi}i16 {{\n                let mut g = crate::sample::Sampler::new(seed, version);\n                let value = {name}::sample(&mut g, version);\n                let mut w = Writer::new();\n                value.encode(&mut w, version);\n                let bytes = crate::Piece::concat(&w.finish().expect(\"encodes\"));\n                proptest::prop_assert!(bytes.len() >= {name}::min_wire_size(version), \"version {{}}: below the minimum size\", version);\n                let mut r = Reader::new(Bytes::from(bytes));\n                let back = {name}::decode(&mut r, version);\n                proptest::prop_assert_eq!(back.as_ref(), Ok(&value), \"version {{}}\", version);\n                proptest::prop_assert!(r.is_empty(), \"version {{}}: bytes left\", version);\n            }}\n        }}\n    }}\n}}\n}}\n",
        lo = supported.0,
        hi = supported.1,
        name = msg.name
    );
    Ok(out)
}
