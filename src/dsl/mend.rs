//! The forgiving front end: Rust habits that small coder models carry into Rhai,
//! rewritten before a program is compiled.
//!
//! Each mend turns text that Rhai rejects (a parse error, or a call of a function that
//! does not exist) into the Rhai that means what the writer meant: `let mut x` is
//! `let x`, `fn solve(g: Grid) -> Grid` is `fn solve(g)`, `x.clone()` is `x` (Rhai
//! copies values on assignment), `&x` is `x`, `n as usize` is `n`, `vec![..]` is
//! `[..]`, `[x; n]` is `filled(x, n)` (a prelude helper), `let (a, b) = (x, y);` is one
//! `let` per name, `x.f(..)` starting a chain whose closure reads `x` is `f(x, ..)`
//! (Rhai would report a data race), `for _ in` names its variable, and C's `c ? a : b` is
//! `if c { a } else { b }`.
//! [`mend_script`] also takes an answer that wrote only the body of `solve`. Comments
//! and strings are never touched, and a program that defines a function of
//! a removed method's name keeps its calls.
//!
//! **Invariant:** a program without any of these habits comes back unchanged, with no
//! fixes; the search records every fix it applied beside the completion.

use super::syntax::{tokens, Kind, Token};

/// A program after mending, and the names of the mends applied (each once, in the
/// order of [`MENDS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mended {
    pub text: String,
    pub fixes: Vec<&'static str>,
}

/// Every mend, by the name recorded when it applies.
pub const MENDS: &[&str] = &[
    "let mut",
    "types",
    "&",
    "as",
    "vec!",
    "[x; n]",
    "let (a, b)",
    "chain",
    ".clone()",
    ".iter()",
    ".collect()",
    ".unwrap()",
    "for _",
    "?:",
    "fn solve",
];

/// Methods that return their receiver unchanged in Rust's sense of ownership or
/// iteration, and the mend each belongs to. `.collect::<T>()` is handled with `.collect()`.
const NO_OP_METHODS: &[(&str, &str)] = &[
    ("clone", ".clone()"),
    ("to_owned", ".clone()"),
    ("to_vec", ".clone()"),
    ("copied", ".clone()"),
    ("cloned", ".clone()"),
    ("iter", ".iter()"),
    ("into_iter", ".iter()"),
    ("iter_mut", ".iter()"),
    ("collect", ".collect()"),
    ("unwrap", ".unwrap()"),
];

/// Rust's numeric types, the targets of `as` casts.
const NUMERIC_TYPES: &[&str] =
    &["i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize", "f32", "f64", "int"];

/// Mends a code block that defines no `fn solve`: statements with no function at all
/// become the body of `fn solve(g)` (fix `fn solve`); anything else is only mended.
pub fn mend_script(src: &str) -> Mended {
    let mut mended = mend(src);
    if !tokens(src).iter().any(|t| t.kind == Kind::Keyword && t.text == "fn") {
        mended.text = format!("fn solve(g) {{\n{}\n}}", mended.text);
        mended.fixes.push("fn solve");
    }
    mended
}

/// Rewrites the Rust habits in `src` (see the module doc).
pub fn mend(src: &str) -> Mended {
    let toks = tokens(src);
    let mut m =
        Mender { toks: &toks, drop: vec![false; toks.len()], replace: vec![None; toks.len()], fixes: Vec::new() };
    let defined = defined_functions(&toks);
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        match (t.kind, t.text) {
            (Kind::Ident, "mut") if m.next(i).is_some_and(|j| toks[j].kind == Kind::Ident) => {
                m.drop_through_space(i);
                m.fix("let mut");
            }
            (Kind::Keyword, "let") => {
                // `let x: T = ...`: drop `: T` up to `=` or `;`.
                if let Some(name) = m.next(i).filter(|&j| toks[j].kind == Kind::Ident || toks[j].text == "mut") {
                    let name = if toks[name].text == "mut" { m.next(name).unwrap_or(name) } else { name };
                    if let Some(colon) = m.next(name).filter(|&j| toks[j].text == ":") {
                        let end =
                            (colon..toks.len()).find(|&j| matches!(toks[j].text, "=" | ";")).unwrap_or(toks.len());
                        // Keep the space before `=`.
                        let end = if end > colon + 1 && toks[end - 1].kind == Kind::Space { end - 1 } else { end };
                        m.drop_range(colon, end);
                        m.fix("types");
                    }
                }
            }
            (Kind::Keyword, "fn") => {
                if let Some(close) = m.signature_types(i) {
                    i = close;
                }
            }
            (Kind::Punct, "&") if m.is_prefix_ampersand(i) => {
                m.drop[i] = true;
                m.fix("&");
            }
            (Kind::Keyword, "as") => {
                if let Some(ty) = m.next(i).filter(|&j| NUMERIC_TYPES.contains(&toks[j].text)) {
                    // Also the space before `as`.
                    let from = if i > 0 && toks[i - 1].kind == Kind::Space { i - 1 } else { i };
                    m.drop_range(from, ty + 1);
                    m.fix("as");
                }
            }
            (Kind::Ident, "vec")
                if toks.get(i + 1).is_some_and(|t| t.text == "!")
                    && m.next(i + 1).is_some_and(|j| toks[j].text == "[") =>
            {
                m.drop[i] = true;
                m.drop[i + 1] = true;
                m.fix("vec!");
            }
            // Rust's `for _ in`: Rhai wants a name.
            (Kind::Ident, "_") if m.prev(i).is_some_and(|p| toks[p].text == "for") => {
                m.replace[i] = Some("_unused".into());
                m.fix("for _");
            }
            // Rust's `[x; n]`: the prelude's `filled(x, n)`.
            (Kind::Punct, "[") => {
                if let Some((semi, close)) = m.repeat_array(i) {
                    m.replace[i] = Some("filled(".into());
                    m.replace[semi] = Some(",".into());
                    m.replace[close] = Some(")".into());
                    m.fix("[x; n]");
                }
            }
            // `g.colors().map(|c| g.count(c))`: Rhai locks a chain's variable while the
            // chain runs, so a closure in it that reads the variable fails ("data race");
            // `colors(g)` starts the chain from a copy.
            (Kind::Ident, x) if m.prev(i).is_none_or(|p| toks[p].text != ".") => {
                if let Some((dot, open)) = m.captured_chain(i) {
                    let empty = m.next(open).is_some_and(|j| toks[j].text == ")");
                    m.drop[i] = true;
                    m.drop[dot] = true;
                    m.replace[open] = Some(if empty { format!("({x}") } else { format!("({x}, ") });
                    m.fix("chain");
                }
            }
            (Kind::Punct, ".") => {
                if let Some(end) = m.no_op_call(i, &defined) {
                    i = end;
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut mended = m.finish();
    // Destructuring lets, one at a time.
    for n in 0..16 {
        let Some(text) = destructure(&mended.text, n) else { break };
        mended.text = text;
        if !mended.fixes.contains(&"let (a, b)") {
            mended.fixes.push("let (a, b)");
        }
    }
    // Conditional operators, one at a time (a branch may hold another).
    for _ in 0..16 {
        let Some(text) = ternary(&mended.text) else { break };
        mended.text = text;
        if !mended.fixes.contains(&"?:") {
            mended.fixes.push("?:");
        }
    }
    mended
}

/// The first `let (a, b) = rhs;` (or `let [a, b] = rhs;`) in `src` as
/// `let _parts{n} = rhs; let a = _parts{n}[0]; let b = _parts{n}[1];`, a tuple `rhs`
/// `(x, y)` becoming the array `[x, y]`; `_` names are skipped. `None` when there is none.
fn destructure(src: &str, n: usize) -> Option<String> {
    let toks = tokens(src);
    let text = |j: usize| toks.get(j).map_or("", |t| t.text);
    let next = |j: usize| next_code(&toks, j);
    let let_at =
        (0..toks.len()).find(|&j| text(j) == "let" && next(j).is_some_and(|k| matches!(text(k), "(" | "[")))?;
    let open = next(let_at)?;
    let close = level_end(&toks, open + 1, |_| false)?;
    let names: Vec<&str> = (open + 1..close).filter(|&j| is_code(&toks[j]) && text(j) != ",").map(text).collect();
    let is_name = |t: &str| {
        t.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && t.chars().all(|c| c.is_alphanumeric() || c == '_')
    };
    let eq = next(close).filter(|&j| text(j) == "=")?;
    if names.is_empty() || !names.iter().all(|t| is_name(t)) {
        return None;
    }
    // The `;` that ends the statement.
    let end = level_end(&toks, eq + 1, |t| t == ";").filter(|&j| text(j) == ";")?;
    let concat = |from: usize, to: usize| toks[from..to].iter().map(|t| t.text).collect::<String>();
    let mut rhs = concat(eq + 1, end).trim().to_string();
    // A tuple `(x, y)` becomes the array `[x, y]`.
    if let Some(paren) = next(eq).filter(|&j| text(j) == "(") {
        let inner = level_end(&toks, paren + 1, |t| t == ",");
        if inner.is_some_and(|j| text(j) == ",") && level_end(&toks, paren + 1, |_| false).and_then(next) == Some(end) {
            rhs = format!("[{}]", &rhs[1..rhs.len() - 1]);
        }
    }
    let tmp = format!("_parts{n}");
    let mut out = format!("let {tmp} = {rhs};");
    for (i, name) in names.iter().enumerate().filter(|(_, name)| **name != "_") {
        out.push_str(&format!(" let {name} = {tmp}[{i}];"));
    }
    Some(format!("{}{out}{}", concat(0, let_at), concat(end + 1, toks.len())))
}

/// Whether a token is code (not space or a comment).
fn is_code(t: &Token) -> bool {
    !matches!(t.kind, Kind::Space | Kind::Comment)
}

/// The next code token after `i`.
fn next_code(toks: &[Token], i: usize) -> Option<usize> {
    (i + 1..toks.len()).find(|&j| is_code(&toks[j]))
}

/// From `from` on, at the bracket depth of `from` (brackets opened on the way are
/// skipped whole): the first token whose text `stop` accepts, or the closing bracket
/// that ends the level. `None` when the text ends first.
fn level_end(toks: &[Token], from: usize, stop: impl Fn(&str) -> bool) -> Option<usize> {
    let mut depth = 0usize;
    for (j, t) in toks.iter().enumerate().skip(from) {
        match t.text {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" if depth == 0 => return Some(j),
            ")" | "]" | "}" => depth -= 1,
            x if depth == 0 && stop(x) => return Some(j),
            _ => {}
        }
    }
    None
}

/// The first `c ? a : b` in `src` rewritten as `if c { a } else { b }`, or `None`.
/// The condition reaches left to the nearest `(`, `[`, `{`, `,`, `;`, `=` (an
/// assignment, not a comparison), closure bar or `return` at its depth; the else branch
/// reaches right to the nearest `,`, `;` or closing bracket. Rhai's own `?.`, `?[` and
/// `??` are left alone.
fn ternary(src: &str) -> Option<String> {
    let toks = tokens(src);
    let text = |j: usize| toks.get(j).map_or("", |t| t.text);
    let code = |t: &Token| !matches!(t.kind, Kind::Space | Kind::Comment);
    let q = (0..toks.len()).find(|&j| {
        toks[j].kind == Kind::Punct
            && text(j) == "?"
            && text(j + 1) != "?"
            && text(j + 1) != "."
            && text(j + 1) != "["
            && (j == 0 || text(j - 1) != "?")
    })?;
    // An `=` that assigns: not part of `==`, `!=`, `<=`, `>=`, `=>`.
    let assigns = |j: usize| {
        text(j) == "="
            && !matches!(text(j + 1), "=" | ">")
            && (j == 0 || !matches!(text(j - 1), "=" | "!" | "<" | ">" | "+" | "-" | "*" | "/"))
    };
    let bar = |j: usize| text(j) == "|" && text(j + 1) != "|" && (j == 0 || text(j - 1) != "|");
    let mut start = q;
    let mut depth = 0i32;
    for j in (0..q).rev() {
        match text(j) {
            ")" | "]" | "}" => depth += 1,
            "(" | "[" | "{" if depth == 0 => break,
            "(" | "[" | "{" => depth -= 1,
            "," | ";" | "return" if depth == 0 => break,
            _ if depth == 0 && (assigns(j) || bar(j)) => break,
            _ => {}
        }
        start = j;
    }
    // The then branch ends at the `:` that matches this `?` (nested ones pair first).
    let (mut depth, mut nested, mut colon) = (0i32, 0, None);
    for j in q + 1..toks.len() {
        match text(j) {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" if depth == 0 => return None,
            ")" | "]" | "}" => depth -= 1,
            "?" if depth == 0 => nested += 1,
            ":" if depth == 0 && text(j + 1) != ":" && text(j - 1) != ":" => {
                if nested == 0 {
                    colon = Some(j);
                    break;
                }
                nested -= 1;
            }
            ";" if depth == 0 => return None,
            _ => {}
        }
    }
    let colon = colon?;
    let end = level_end(&toks, colon + 1, |t| matches!(t, "," | ";")).unwrap_or(toks.len());
    let join = |from: usize, to: usize| toks[from..to].iter().map(|t| t.text).collect::<String>().trim().to_string();
    if !toks[start..q].iter().any(code)
        || !toks[q + 1..colon].iter().any(code)
        || !toks[colon + 1..end].iter().any(code)
    {
        return None;
    }
    // Keep the space that stood before the condition.
    let lead: String = toks[start..q].iter().take_while(|t| t.kind == Kind::Space).map(|t| t.text).collect();
    let trail: String =
        toks[colon + 1..end].iter().rev().take_while(|t| t.kind == Kind::Space).map(|t| t.text).collect();
    Some(format!(
        "{}{lead}if {} {{ {} }} else {{ {} }}{trail}{}",
        join(0, start),
        join(start, q),
        join(q + 1, colon),
        join(colon + 1, end),
        join(end, toks.len())
    ))
}

struct Mender<'a, 'b> {
    toks: &'b [Token<'a>],
    drop: Vec<bool>,
    replace: Vec<Option<String>>,
    fixes: Vec<&'static str>,
}

impl Mender<'_, '_> {
    /// The next token after `i` that is not space or comment.
    fn next(&self, i: usize) -> Option<usize> {
        next_code(self.toks, i)
    }

    fn prev(&self, i: usize) -> Option<usize> {
        (0..i).rev().find(|&j| is_code(&self.toks[j]))
    }

    /// For the `[` at `open`: the `;` and `]` of Rust's array repeat `[x; n]`, when the
    /// brackets hold one `;` outside any inner bracket.
    fn repeat_array(&self, open: usize) -> Option<(usize, usize)> {
        let semi = level_end(self.toks, open + 1, |t| t == ";").filter(|&j| self.toks[j].text == ";")?;
        let close = level_end(self.toks, semi + 1, |t| t == ";").filter(|&j| self.toks[j].text == "]")?;
        Some((semi, close))
    }

    /// For a variable at `root` that starts a method chain (`x.f(..).g(..)[..]`) with a
    /// closure in it that reads `x`: the `.` and `(` of the first call. Not for the
    /// no-op methods, which their own mend removes.
    fn captured_chain(&self, root: usize) -> Option<(usize, usize)> {
        let text = |j: usize| self.toks[j].text;
        let dot = self.next(root).filter(|&j| text(j) == ".")?;
        let method = self
            .next(dot)
            .filter(|&j| self.toks[j].kind == Kind::Ident && !NO_OP_METHODS.iter().any(|(m, _)| *m == text(j)))?;
        let open = self.next(method).filter(|&j| text(j) == "(")?;
        // The chain: calls, properties and indexing, up to the last closing bracket.
        let mut end = open;
        let mut at = open;
        loop {
            if matches!(text(at), "(" | "[") {
                end = level_end(self.toks, at + 1, |_| false)?;
            }
            match self.next(end).map(|j| (j, text(j))) {
                Some((j, "[")) => at = j,
                Some((j, ".")) => {
                    let name = self.next(j)?;
                    at = self.next(name).filter(|&k| text(k) == "(").unwrap_or(name);
                    end = name;
                }
                _ => break,
            }
        }
        let closure = (open..end).any(|j| text(j) == "|");
        let reads = (open..end).any(|j| {
            self.toks[j].kind == Kind::Ident && text(j) == text(root) && self.prev(j).is_none_or(|p| text(p) != ".")
        });
        (closure && reads).then_some((dot, open))
    }

    fn fix(&mut self, name: &'static str) {
        if !self.fixes.contains(&name) {
            self.fixes.push(name);
        }
    }

    fn drop_range(&mut self, from: usize, to: usize) {
        self.drop[from..to].iter_mut().for_each(|d| *d = true);
    }

    /// Drops token `i` and the spaces after it.
    fn drop_through_space(&mut self, i: usize) {
        self.drop[i] = true;
        let mut j = i + 1;
        while j < self.toks.len() && self.toks[j].kind == Kind::Space {
            self.drop[j] = true;
            j += 1;
        }
    }

    /// In `fn name(a: T, b: U) -> R {`, drops the parameter types and the return type.
    /// Returns the index of the `{` (or of `)` when there is no body yet).
    fn signature_types(&mut self, fn_at: usize) -> Option<usize> {
        let name = self.next(fn_at)?;
        let open = self.next(name).filter(|&j| self.toks[j].text == "(")?;
        let mut depth = 0i32;
        let mut close = None;
        let mut in_type = false;
        for j in open + 1..self.toks.len() {
            let t = self.toks[j].text;
            match t {
                "(" | "[" | "<" => depth += 1,
                ")" if depth == 0 => {
                    close = Some(j);
                    break;
                }
                ")" | "]" | ">" => depth -= 1,
                "," if depth == 0 => in_type = false,
                ":" if depth == 0 => {
                    in_type = true;
                    self.fix("types");
                }
                "{" | ";" => return None, // not a signature
                _ => {}
            }
            if in_type {
                self.drop[j] = true;
            }
        }
        let close = close?;
        // `-> R` up to the body.
        if let Some(arrow) = self
            .next(close)
            .filter(|&j| self.toks[j].text == "-" && self.toks.get(j + 1).is_some_and(|t| t.text == ">"))
        {
            let body = (arrow..self.toks.len()).find(|&j| self.toks[j].text == "{")?;
            let from = if self.toks[arrow - 1].kind == Kind::Space { arrow - 1 } else { arrow };
            self.drop_range(from, body);
            self.replace[body] = Some(" {".into());
            self.fix("types");
            return Some(body);
        }
        Some(close)
    }

    /// `&` used as Rust's borrow: not `&&` or `&=`, after something that cannot end an
    /// operand, before an operand.
    fn is_prefix_ampersand(&self, i: usize) -> bool {
        let t = self.toks;
        let neighbour_amp = |j: usize| t.get(j).is_some_and(|t| t.text == "&" || t.text == "=");
        if neighbour_amp(i + 1) || (i > 0 && t[i - 1].text == "&") {
            return false;
        }
        let before_ok = match self.prev(i) {
            None => true,
            Some(p) => matches!(
                t[p].text,
                "(" | "," | "=" | "[" | "{" | ";" | "|" | "in" | "return" | "!" | "<" | ">" | "+" | "-" | "*" | "/"
            ),
        };
        let after_ok = self
            .next(i)
            .is_some_and(|n| matches!(t[n].kind, Kind::Ident | Kind::Keyword) || matches!(t[n].text, "(" | "["));
        before_ok && after_ok
    }

    /// `.m()` for a method in [`NO_OP_METHODS`] (and `.collect::<T>()`): dropped.
    /// Returns the index of the call's `)`.
    fn no_op_call(&mut self, dot: usize, defined: &[&str]) -> Option<usize> {
        let t = self.toks;
        let name = dot + 1;
        let (_, mend) = *NO_OP_METHODS.iter().find(|(m, _)| t.get(name).is_some_and(|n| n.text == *m))?;
        if defined.contains(&t[name].text) {
            return None;
        }
        // Optional turbofish: `::<...>`.
        let mut j = name + 1;
        if t.get(j).is_some_and(|x| x.text == ":") && t.get(j + 1).is_some_and(|x| x.text == ":") {
            let mut depth = 0;
            j += 2;
            while j < t.len() {
                match t[j].text {
                    "<" => depth += 1,
                    ">" => {
                        depth -= 1;
                        if depth == 0 {
                            j += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        let open = j;
        if t.get(open).is_none_or(|x| x.text != "(") {
            return None;
        }
        let close = self.next(open).filter(|&c| t[c].text == ")")?;
        // A space before the dot (a chain broken over lines) goes too.
        self.drop_range(dot, close + 1);
        self.fix(mend);
        Some(close)
    }

    fn finish(self) -> Mended {
        let mut text = String::new();
        for (k, t) in self.toks.iter().enumerate() {
            if let Some(r) = &self.replace[k] {
                text.push_str(r);
            } else if !self.drop[k] {
                text.push_str(t.text);
            }
        }
        let mut fixes = self.fixes;
        fixes.sort_by_key(|f| MENDS.iter().position(|m| m == f));
        Mended { text, fixes }
    }
}

/// Names of the functions the program defines (`fn name(`).
fn defined_functions<'a>(toks: &[Token<'a>]) -> Vec<&'a str> {
    let code: Vec<&Token> = toks.iter().filter(|t| !matches!(t.kind, Kind::Space | Kind::Comment)).collect();
    code.windows(2).filter(|w| w[0].text == "fn" && w[1].kind == Kind::Ident).map(|w| w[1].text).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(src: &str) -> (String, Vec<&'static str>) {
        let m = mend(src);
        (m.text, m.fixes)
    }

    #[test]
    fn rust_habits_become_rhai() {
        assert_eq!(
            fixed("fn solve(g) { let mut out = g; out }"),
            ("fn solve(g) { let out = g; out }".into(), vec!["let mut"])
        );
        assert_eq!(fixed("fn solve(g: Grid) -> Grid { g }"), ("fn solve(g) { g }".into(), vec!["types"]));
        assert_eq!(
            fixed("fn f(a: &Vec<i64>, n: usize) -> Vec<i64> {\n    a\n}"),
            ("fn f(a, n) {\n    a\n}".into(), vec!["types"])
        );
        assert_eq!(fixed("let x: i64 = 3;"), ("let x = 3;".into(), vec!["types"]));
        assert_eq!(fixed("let mut n: usize = 0;"), ("let n = 0;".into(), vec!["let mut", "types"]));
        assert_eq!(fixed("let out = g.clone();"), ("let out = g;".into(), vec![".clone()"]));
        assert_eq!(fixed("f(&g, &mut h)"), ("f(g, h)".into(), vec!["let mut", "&"]));
        assert_eq!(fixed("let r = (n as usize) + 1;"), ("let r = (n) + 1;".into(), vec!["as"]));
        assert_eq!(fixed("let v = vec![1, 2];"), ("let v = [1, 2];".into(), vec!["vec!"]));
        assert_eq!(
            fixed("let d = row.iter().map(|&v| v * 2).collect::<Vec<_>>();"),
            ("let d = row.map(|v| v * 2);".into(), vec!["&", ".iter()", ".collect()"])
        );
        assert_eq!(fixed("let m = a.max().unwrap();"), ("let m = a.max();".into(), vec![".unwrap()"]));
        assert_eq!(
            fixed("fn solve(g) { g.map_cells(|v| v == 1 ? 2 : v) }"),
            ("fn solve(g) { g.map_cells(|v| if v == 1 { 2 } else { v }) }".into(), vec!["?:"])
        );
        assert_eq!(
            fixed("for _ in 0..3 { g = g.rotate(1); }"),
            ("for _unused in 0..3 { g = g.rotate(1); }".into(), vec!["for _"])
        );
        let m = mend_script("// fill\nlet mut out = g;\nout");
        assert_eq!(
            (m.text.as_str(), m.fixes),
            ("fn solve(g) {\n// fill\nlet out = g;\nout\n}", vec!["let mut", "fn solve"])
        );
        assert_eq!(mend_script("fn f(x) { x }").text, "fn f(x) { x }");
        assert_eq!(
            fixed("let counts = [[0; 3]; g.rows()];"),
            ("let counts = filled(filled(0, 3), g.rows());".into(), vec!["[x; n]"])
        );
        assert_eq!(
            fixed("fn solve(g) {\n    let (r1, c1) = (0, g.cols() - 1);\n    g\n}"),
            ("fn solve(g) {\n    let _parts0 = [0, g.cols() - 1]; let r1 = _parts0[0]; let c1 = _parts0[1];\n    g\n}".into(), vec!["let (a, b)"])
        );
        assert_eq!(
            fixed("let [r, _, c] = o.cells()[0]; let (mut a, b) = f(x);"),
            ("let _parts0 = o.cells()[0]; let r = _parts0[0]; let c = _parts0[2]; let _parts1 = f(x); let a = _parts1[0]; let b = _parts1[1];".into(), vec!["let mut", "let (a, b)"])
        );
        assert_eq!(
            fixed("let n = g.colors().map(|c| g.count(c)).len(); let a = g.row(0).all(|v| v == g.get(0, 0));"),
            (
                "let n = colors(g).map(|c| g.count(c)).len(); let a = row(g, 0).all(|v| v == g.get(0, 0));".into(),
                vec!["chain"]
            )
        );
        assert_eq!(
            fixed("let k = g.palette()[0].max(|v| g.count(v));"),
            ("let k = palette(g)[0].max(|v| g.count(v));".into(), vec!["chain"])
        );
        assert_eq!(fixed("let x = a > b ? a : b;"), ("let x = if a > b { a } else { b };".into(), vec!["?:"]));
        assert_eq!(
            fixed("out.set(i, 0, g.get(i, 0) == 1 ? 2 : 1);"),
            ("out.set(i, 0, if g.get(i, 0) == 1 { 2 } else { 1 });".into(), vec!["?:"])
        );
        assert_eq!(
            fixed("let c = v == 1 ? 2 : v == 2 ? 1 : v;"),
            ("let c = if v == 1 { 2 } else { if v == 2 { 1 } else { v } };".into(), vec!["?:"])
        );
    }

    #[test]
    fn rhai_is_left_alone() {
        for src in [
            "fn solve(g) { let h = g.split_rows(2); h[0].or(h[1]).replace(1, 3) }",
            "fn solve(g) { if a && b { x & y } else { #{a: 1}[\"a\"] } }",
            "fn solve(g) { let s = \"let mut x = y.clone()\"; // &x as usize\n g }",
            "fn clone(x) { x }\nfn solve(g) { g.clone() }",
            "fn solve(g) { let out = g; out = out.set(0, 0, 1); out }",
            "fn solve(g) { let a = [g[0], (1; 2)]; let x = (a + b) * 2; g }",
            "fn solve(g) { let n = g.colors().map(|c| c + 1); let m = g.paste(g.rotate(1), 0, 0); g.count(n[0]) }",
            "fn solve(g) { let m = #{a: 1}; let v = m?.a ?? 0; g }",
        ] {
            assert_eq!(fixed(src), (src.to_string(), vec![]), "{src}");
        }
    }
}
