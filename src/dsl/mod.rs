//! The DSL: grid primitives implemented in Rust ([`ops`], [`objects`], [`rules`]) and exposed to
//! Rhai programs ([`module`]). A program is a Rhai script defining `fn solve(g)`
//! that returns a `Grid`.
//!
//! The reference that prompts include is generated here from the registrations, so the
//! docs cannot drift from what programs can call.

pub mod mend;
pub mod module;
pub mod objects;
pub mod ops;
pub mod rules;
pub mod syntax;

use rhai::Engine;

use crate::grid::Grid;
use objects::Obj;

/// The prelude: DSL helpers written in Rhai, merged into every program.
pub const PRELUDE: &str = include_str!("../../dsl/prelude.rhai");

/// Groups of the reference, in order. Every registered primitive must be listed in one
/// (a test checks), so the grouping cannot silently miss a new primitive.
pub const SECTIONS: &[(&str, &[&str])] = &[
    ("Grid", &["grid", "grid_from", "rows", "cols", "get", "set", "row", "col", "to_array"]),
    ("Geometry", &["rotate", "flip_h", "flip_v", "transpose", "shift", "roll"]),
    (
        "Size",
        &[
            "crop",
            "trim",
            "pad",
            "resize",
            "scale_up",
            "scale_down",
            "tile",
            "tile_to",
            "mirror_tile",
            "reflect_tile",
            "hcat",
            "vcat",
            "split_cols",
            "split_rows",
            "split_by_lines",
            "split_by_gaps",
            "corners",
            "part_colours",
            "remove_lines",
            "left_half",
            "right_half",
            "top_half",
            "bottom_half",
            "dedup_rows",
            "dedup_cols",
        ],
    ),
    (
        "Colour",
        &[
            "replace",
            "replace_not",
            "swap",
            "recolor",
            "rank_colours",
            "unrank_colours",
            "keep",
            "most_common",
            "least_common",
            "background",
            "palette",
            "colors",
            "count",
            "counts",
            "positions",
        ],
    ),
    (
        "Objects (Object values)",
        &[
            "objects",
            "as_object",
            "color_object",
            "paint",
            "erase",
            "crop_to",
            "touches_border",
            "size",
            "color",
            "top",
            "left",
            "bottom",
            "right",
            "height",
            "width",
            "cells",
            "contains",
            "normalize",
            "same_shape",
            "is_rect",
            "holes",
            "to_grid",
        ],
    ),
    (
        "Painting",
        &[
            "fill_rect",
            "flood_fill",
            "flood_from",
            "hull",
            "ring_colours",
            "fill_enclosed",
            "fill_regions",
            "fill_parts",
            "repeat_part",
            "recolor_nearest",
            "line",
            "ray",
            "ray_until",
            "rays",
            "extend_ends",
            "rays_to",
            "connect",
            "elbow",
            "hollow",
            "attract",
            "align_to",
            "attract_own",
            "copy_to",
            "complete_copies",
            "mirror_across",
            "mirror_around",
            "keep_solid",
            "stamp",
            "paste",
            "overlay",
            "overlay_all",
            "recolor_from",
            "gravity",
        ],
    ),
    ("Masks (0/1 grids)", &["mask", "and", "or", "xor", "invert", "select"]),
    (
        "Patterns",
        &[
            "is_symmetric_h",
            "is_symmetric_v",
            "complete_symmetry",
            "mask_colour",
            "complete_pattern",
            "repeat_band",
            "period_rows",
            "period_cols",
            "symmetric_colour",
        ],
    ),
    ("Cell-wise (closures and local rules)", &["grid_fn", "map_cells", "cell_key", "rewrite", "copy_color"]),
    ("Arrays", &["max_by", "min_by", "most_frequent"]),
    ("Prelude helpers (written in Rhai)", &["largest", "smallest", "of_color", "filled"]),
];

/// Registers the DSL's types and primitives on an engine.
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Grid>("Grid");
    engine.register_type_with_name::<Obj>("Object");
    let mut m = rhai::exported_module!(module::dsl_api);
    // Plugin functions are looked up lazily by a linear scan of the manifest on every
    // call unless registered up front: that scan cost ~0.7 us per primitive call.
    m.register_lazy_functions();
    engine.register_global_module(m.into());
}

/// One documented primitive signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Primitive {
    pub name: String,
    /// e.g. `g.rotate(k)` or `grid(rows, cols, c)`.
    pub signature: String,
    pub returns: String,
    pub doc: String,
}

/// Every documented primitive, from the engine's registration metadata.
pub fn primitives() -> Vec<Primitive> {
    let mut engine = Engine::new_raw();
    engine.set_max_expr_depths(64, 48);
    register(&mut engine);
    let json = engine.gen_fn_metadata_to_json(false).expect("metadata serialises");
    let v: serde_json::Value = serde_json::from_str(&json).expect("metadata is JSON");
    let mut out = Vec::new();
    for f in v["functions"].as_array().into_iter().flatten() {
        let name = f["name"].as_str().unwrap_or_default().to_string();
        let docs: Vec<String> = f["docComments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str())
            .flat_map(|d| d.lines().map(|l| l.trim_start_matches("///").trim().to_string()).collect::<Vec<_>>())
            .filter(|l| !l.is_empty())
            .collect();
        let Some(doc) = docs.first().cloned() else { continue }; // operators and to_string
        let params: Vec<(String, String)> = f["params"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| (p["name"].as_str().unwrap_or("_").to_string(), p["type"].as_str().unwrap_or("?").to_string()))
            .filter(|(n, _)| n != "ctx")
            .collect();
        let receiver = params.first().filter(|(_, t)| t.starts_with("&mut")).map(|(_, t)| receiver_name(t));
        let signature = match receiver {
            Some(Some(r)) => {
                format!("{r}.{name}({})", params[1..].iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", "))
            }
            _ => format!("{name}({})", params.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")),
        };
        let returns = f["returnType"].as_str().unwrap_or("()");
        let returns = returns.strip_prefix("Res<").and_then(|r| r.strip_suffix('>')).unwrap_or(returns);
        out.push(Primitive { name, signature, returns: short_type(returns), doc });
    }
    out.extend(prelude_helpers(&engine));
    out.sort_by_key(|p| (section_of(&p.name), position_in_section(&p.name), p.signature.clone()));
    out
}

/// The prelude's functions, documented by their `///` comments.
fn prelude_helpers(engine: &Engine) -> Vec<Primitive> {
    let ast = engine.compile(PRELUDE).expect("the DSL prelude compiles");
    // Documented helpers only: the method form (using `this`) carries the doc; its
    // plain-function twin does not.
    ast.iter_functions()
        .filter_map(|f| {
            let doc = f
                .comments
                .iter()
                .flat_map(|c| c.lines())
                .map(|l| l.trim_start_matches("///").trim())
                .find(|l| !l.is_empty())?;
            let twin = ast.iter_functions().find(|t| t.name == f.name && t.params.len() == f.params.len() + 1);
            let signature = match twin.and_then(|t| t.params.first().copied()) {
                Some(recv) => format!("{recv}.{}({})", f.name, f.params.join(", ")),
                None => format!("{}({})", f.name, f.params.join(", ")),
            };
            Some(Primitive { name: f.name.to_string(), signature, returns: "any".into(), doc: doc.to_string() })
        })
        .collect()
}

/// The variable name used for a method receiver of this type in the reference.
fn receiver_name(ty: &str) -> Option<&'static str> {
    match short_type(ty).as_str() {
        "Grid" => Some("g"),
        "Object" => Some("o"),
        "array" => Some("arr"),
        _ => None,
    }
}

fn short_type(ty: &str) -> String {
    let t = ty.trim_start_matches("&mut ").trim();
    match t {
        "arcsynth::grid::Grid" | "Grid" => "Grid".into(),
        "arcsynth::dsl::objects::Obj" | "Object" | "Obj" => "Object".into(),
        "Array" | "rhai::Array" | "Vec<Dynamic>" => "array".into(),
        "INT" | "i64" => "int".into(),
        "bool" => "bool".into(),
        "()" => "()".into(),
        "Dynamic" => "any".into(),
        "rhai::Map" | "Map" => "map".into(),
        other => other.rsplit("::").next().unwrap_or(other).into(),
    }
}

fn position_in_section(name: &str) -> usize {
    SECTIONS.iter().find_map(|(_, names)| names.iter().position(|n| *n == name)).unwrap_or(0)
}

fn section_of(name: &str) -> usize {
    SECTIONS.iter().position(|(_, names)| names.contains(&name)).unwrap_or(SECTIONS.len())
}

/// The Markdown reference for prompts and `arcsynth dsl docs`.
pub fn reference_markdown() -> String {
    let prims = primitives();
    let mut out = String::from(
        "# arcsynth DSL reference\n\nA program is Rhai: `fn solve(g) { ... }` returning a Grid. Colours are ints 0..=9; \
         (r, c) is (row, column) from the top-left. Grid methods return new grids except `set`. \
         A closure must not capture the variable its method chain starts from (`row.all(|v| v == row[0])` and `g.objects().max_by(|o| g.count(1))` fail): put the chain's start in a local first.\n",
    );
    let mut current = usize::MAX;
    for p in &prims {
        let s = section_of(&p.name);
        if s != current {
            current = s;
            let title = SECTIONS.get(s).map_or("Other", |(t, _)| t);
            out.push_str(&format!("\n## {title}\n"));
        }
        let ret = if p.returns == "()" { String::new() } else { format!(" -> {}", p.returns) };
        out.push_str(&format!("- `{}{}`: {}\n", p.signature, ret, p.doc));
    }
    out
}
