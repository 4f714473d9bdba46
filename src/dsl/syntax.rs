//! A lexer for Rhai program text, enough to read programs without running them: which
//! functions a program calls (coverage, DSL-usage rates), its size in code lines, a
//! comment- and spacing-free form (deduplication), and token kinds (syntax highlighting).
//! It never fails: text it does not understand becomes punctuation tokens.

use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Comment,
    Str,
    Number,
    Keyword,
    Ident,
    Punct,
    Space,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
}

const KEYWORDS: &[&str] = &[
    "fn", "let", "const", "if", "else", "while", "loop", "for", "in", "do", "until", "return", "break", "continue",
    "true", "false", "this", "switch", "throw", "try", "catch", "import", "export", "as", "private", "global", "Fn",
];

/// Splits `src` into tokens whose texts, concatenated, give `src` back.
pub fn tokens(src: &str) -> Vec<Token<'_>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let kind = match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = src[i..].find('\n').map_or(b.len(), |n| i + n);
                Kind::Comment
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // Rhai block comments nest.
                let (mut depth, mut j) = (0usize, i);
                while j < b.len() {
                    if b[j..].starts_with(b"/*") {
                        depth += 1;
                        j += 2;
                    } else if b[j..].starts_with(b"*/") {
                        depth -= 1;
                        j += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        j += 1;
                    }
                }
                i = j;
                Kind::Comment
            }
            q @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(b.len());
                Kind::Str
            }
            c if c.is_ascii_digit() => {
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || (b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)))
                {
                    i += 1;
                }
                Kind::Number
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if KEYWORDS.contains(&&src[start..i]) {
                    Kind::Keyword
                } else {
                    Kind::Ident
                }
            }
            c if c.is_ascii_whitespace() => {
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                Kind::Space
            }
            _ => {
                // One character, whole (the text may hold any unicode).
                i += src[i..].chars().next().map_or(1, char::len_utf8);
                Kind::Punct
            }
        };
        out.push(Token { kind, text: &src[start..i] });
    }
    out
}

/// Every name the program calls, as a function (`f(x)`) or a method (`x.f()`), except
/// the functions it defines itself.
pub fn called_names(src: &str) -> BTreeSet<String> {
    let toks: Vec<Token> = tokens(src).into_iter().filter(|t| !matches!(t.kind, Kind::Space | Kind::Comment)).collect();
    let mut called = BTreeSet::new();
    let mut defined = BTreeSet::new();
    for (i, t) in toks.iter().enumerate() {
        if t.kind != Kind::Ident || toks.get(i + 1).is_none_or(|n| n.text != "(") {
            continue;
        }
        if i > 0 && toks[i - 1].text == "fn" {
            defined.insert(t.text.to_string());
        } else {
            called.insert(t.text.to_string());
        }
    }
    called.retain(|n| !defined.contains(n));
    called
}

/// The DSL primitives (Rust and prelude) that the program calls.
pub fn primitives_called(src: &str) -> BTreeSet<String> {
    let names = primitive_names();
    called_names(src).into_iter().filter(|n| names.contains(n)).collect()
}

/// The names of every documented DSL primitive, built once per process (it compiles an
/// engine and reads its metadata).
pub fn primitive_names() -> &'static HashSet<String> {
    static NAMES: OnceLock<HashSet<String>> = OnceLock::new();
    NAMES.get_or_init(|| super::primitives().into_iter().map(|p| p.name).collect())
}

/// Lines holding code, not only spaces and comments.
pub fn code_lines(src: &str) -> usize {
    let mut lines = BTreeSet::new();
    let mut line = 0;
    for t in tokens(src) {
        if !matches!(t.kind, Kind::Space | Kind::Comment) {
            lines.insert(line);
        }
        line += t.text.matches('\n').count();
    }
    lines.len()
}

/// The program without comments and with its spacing normalised: two programs with the
/// same normalised text are the same program.
pub fn normalised(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut prev_word = false;
    for t in tokens(src) {
        match t.kind {
            Kind::Space | Kind::Comment => continue,
            Kind::Ident | Kind::Keyword | Kind::Number => {
                // A space only where two words would otherwise fuse.
                if prev_word {
                    out.push(' ');
                }
                prev_word = true;
            }
            _ => prev_word = false,
        }
        out.push_str(t.text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_cover_the_text_exactly() {
        let src = "// c\nfn solve(g) { /* a /* nested */ b */ let s = \"x\\\"y\"; g.rotate(1) + 2.5 } é";
        let toks = tokens(src);
        assert_eq!(toks.iter().map(|t| t.text).collect::<String>(), src);
        assert_eq!(toks[0], Token { kind: Kind::Comment, text: "// c" });
        assert!(toks.contains(&Token { kind: Kind::Comment, text: "/* a /* nested */ b */" }));
        assert!(toks.contains(&Token { kind: Kind::Str, text: "\"x\\\"y\"" }));
        assert!(toks.contains(&Token { kind: Kind::Number, text: "2.5" }));
        assert!(toks.contains(&Token { kind: Kind::Keyword, text: "let" }));
    }

    #[test]
    fn calls_skip_definitions_comments_and_strings() {
        let src = "fn helper(x) { x }\n// rotate(1)\nfn solve(g) { let s = \"flip_h()\"; helper(g).rotate (1).crop(0, 0, 1, 1) }";
        let got: Vec<String> = called_names(src).into_iter().collect();
        assert_eq!(got, ["crop", "rotate"]);
    }

    #[test]
    fn code_lines_and_normal_form() {
        let a = "// mirror\nfn solve(g) {\n\n    g.flip_h()   // the answer\n}\n";
        let b = "fn solve(g){ g.flip_h() }";
        assert_eq!(code_lines(a), 3);
        assert_eq!(normalised(a), normalised(b));
        assert_eq!(normalised(b), "fn solve(g){g.flip_h()}");
        assert_ne!(normalised("let a = 1;"), normalised("let a = 12;"));
    }
}
