//! Emits what spans all messages: `ApiKey`, `SUPPORTED_APIS`, and the
//! `RequestBody` / `ResponseBody` enums with one variant per supported api.

use std::fmt::Write;

use crate::schema::Message;

pub type Api<'a> = (&'a str, i16, i16, Vec<Message>);

pub fn emit(apis: &[Api]) -> String {
    let mut out = String::new();
    out.push_str(
        "/// A Kafka api this crate supports, by its wire key.\n///\n/// I/O-free; used on any core.\n#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\n#[repr(i16)]\npub enum ApiKey {\n",
    );
    for (variant, _, _, msgs) in apis {
        let _ = writeln!(out, "    /// Api key {}.\n    {variant} = {},", msgs[0].api_key, msgs[0].api_key);
    }
    out.push_str("}\n\nimpl ApiKey {\n    /// The api with this wire key, if supported.\n    pub fn from_i16(key: i16) -> Option<ApiKey> {\n        match key {\n");
    for (variant, _, _, msgs) in apis {
        let _ = writeln!(out, "            {} => Some(ApiKey::{variant}),", msgs[0].api_key);
    }
    out.push_str("            _ => None,\n        }\n    }\n\n    /// The wire key.\n    pub fn as_i16(self) -> i16 {\n        self as i16\n    }\n\n    /// Kafka's name for the api.\n    pub fn name(self) -> &'static str {\n        match self {\n");
    for (variant, _, _, _) in apis {
        let _ = writeln!(out, "            ApiKey::{variant} => \"{variant}\",");
    }
    out.push_str("        }\n    }\n\n    /// The (min, max) versions supported (and advertised).\n    pub fn supported_versions(self) -> (i16, i16) {\n        match self {\n");
    for (variant, lo, hi, _) in apis {
        let _ = writeln!(out, "            ApiKey::{variant} => ({lo}, {hi}),");
    }
    out.push_str("        }\n    }\n\n    /// Does the request at `version` use the flexible encoding (and request header v2)?\n    pub fn request_is_flexible(self, version: i16) -> bool {\n        match self {\n");
    for (variant, _, _, msgs) in apis {
        let _ = writeln!(out, "            ApiKey::{variant} => {}::is_flexible(version),", msgs[0].name);
    }
    out.push_str("        }\n    }\n\n    /// Does the response at `version` use the flexible encoding?\n    pub fn response_is_flexible(self, version: i16) -> bool {\n        match self {\n");
    for (variant, _, _, msgs) in apis {
        let _ = writeln!(out, "            ApiKey::{variant} => {}::is_flexible(version),", msgs[1].name);
    }
    out.push_str("        }\n    }\n}\n\n");

    out.push_str("/// Every supported api with its (min, max) version: the broker's ApiVersions table.\npub const SUPPORTED_APIS: &[(ApiKey, i16, i16)] = &[\n");
    for (variant, lo, hi, _) in apis {
        let _ = writeln!(out, "    (ApiKey::{variant}, {lo}, {hi}),");
    }
    out.push_str("];\n\n");

    for (enum_name, idx, what) in [("RequestBody", 0usize, "request"), ("ResponseBody", 1, "response")] {
        let _ = writeln!(
            out,
            "/// A decoded {what} body, one variant per supported api.\n///\n/// I/O-free; used on any core.\n#[derive(Debug, Clone, PartialEq)]\npub enum {enum_name} {{"
        );
        for (variant, _, _, msgs) in apis {
            let _ = writeln!(out, "    /// [`{}`].\n    {variant}({}),", msgs[idx].name, msgs[idx].name);
        }
        let _ = writeln!(out, "}}\n\nimpl {enum_name} {{\n    /// Which api this body belongs to.\n    pub fn api_key(&self) -> ApiKey {{\n        match self {{");
        for (variant, _, _, _) in apis {
            let _ = writeln!(out, "            {enum_name}::{variant}(_) => ApiKey::{variant},");
        }
        let _ = writeln!(out, "        }}\n    }}\n\n    /// The body of `api_key` with every field at its schema default.\n    pub fn default_for(api_key: ApiKey) -> Self {{\n        match api_key {{");
        for (variant, _, _, msgs) in apis {
            let _ = writeln!(
                out,
                "            ApiKey::{variant} => {enum_name}::{variant}({}::default()),",
                msgs[idx].name
            );
        }
        let _ = writeln!(
            out,
            "        }}\n    }}\n\n    /// Decodes the body of `api_key` at `version` (the caller checked the version is supported).\n    pub fn decode(api_key: ApiKey, r: &mut Reader, version: i16) -> Result<Self, DecodeError> {{\n        Ok(match api_key {{"
        );
        for (variant, _, _, msgs) in apis {
            let _ = writeln!(
                out,
                "            ApiKey::{variant} => {enum_name}::{variant}({}::decode(r, version)?),",
                msgs[idx].name
            );
        }
        let _ = writeln!(out, "        }})\n    }}\n\n    /// Encodes the body at `version`.\n    pub fn encode(&self, w: &mut Writer, version: i16) {{\n        match self {{");
        for (variant, _, _, _) in apis {
            let _ = writeln!(out, "            {enum_name}::{variant}(m) => m.encode(w, version),");
        }
        out.push_str("        }\n    }\n}\n\n");
    }
    out
}
