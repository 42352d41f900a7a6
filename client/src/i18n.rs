//! The one localization layer: every message `aman` shows a person, on the
//! terminal or in the local web interface, is looked up here by its id in
//! Project Fluent files embedded in the binary (`client/locales/LANG/*.ftl`).
//!
//! The language is chosen once per process (`--lang`, else the locale's
//! `LC_ALL`, `LC_MESSAGES` or `LANG`), before any message is made. English
//! is the fallback for a message a translation lacks, and a unit test keeps
//! the two languages' message ids and variables the same, so that fallback
//! never happens in a release.
//!
//! What the member or a contact wrote (notes, names, plans) is never passed
//! through Fluent: it is a variable, not a message.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::sync::OnceLock;
use unic_langid::LanguageIdentifier;

/// A language the interface is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English.
    En,
    /// Arabic, written right to left.
    Ar,
}

impl Lang {
    /// Every language, English first.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ar];

    /// Its BCP 47 code (`en`, `ar`), as `--lang` and HTML's `lang` take it.
    pub const fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ar => "ar",
        }
    }

    /// Its direction, as HTML's `dir` takes it.
    pub const fn dir(self) -> &'static str {
        match self {
            Lang::En => "ltr",
            Lang::Ar => "rtl",
        }
    }

    /// The language a code or locale names (`ar`, `ar_IQ.UTF-8`, `en-GB`),
    /// if it is one of ours.
    pub fn parse(code: &str) -> Option<Lang> {
        let primary = code.split(['_', '-', '.', '@']).next().unwrap_or("").to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "ar" => Some(Lang::Ar),
            _ => None,
        }
    }

    /// The language the environment's locale asks for: the first of
    /// `LC_ALL`, `LC_MESSAGES`, `LANG` that is set and not empty, as POSIX
    /// orders them; English when that names another language or none.
    pub fn from_environment() -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|v| !v.is_empty())
            .and_then(|v| Lang::parse(&v))
            .unwrap_or(Lang::En)
    }
}

/// Each language's Fluent files, embedded. A new file goes in both lists.
fn sources(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::En => &[
            include_str!("../locales/en/common.ftl"),
            include_str!("../locales/en/member.ftl"),
            include_str!("../locales/en/contact.ftl"),
            include_str!("../locales/en/ui.ftl"),
            include_str!("../locales/en/help.ftl"),
        ],
        Lang::Ar => &[
            include_str!("../locales/ar/common.ftl"),
            include_str!("../locales/ar/member.ftl"),
            include_str!("../locales/ar/contact.ftl"),
            include_str!("../locales/ar/ui.ftl"),
            include_str!("../locales/ar/help.ftl"),
        ],
    }
}

type Bundle = FluentBundle<FluentResource>;

fn build(lang: Lang) -> Bundle {
    let id: LanguageIdentifier = lang.code().parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Unicode isolation marks keep a left-to-right name inside an Arabic
    // sentence in its place; English output stays byte for byte what it was.
    bundle.set_use_isolating(lang == Lang::Ar);
    for source in sources(lang) {
        // A file that does not parse is caught by the unit tests; what parsed
        // of it is still added.
        let resource = FluentResource::try_new((*source).to_owned()).unwrap_or_else(|(partial, _)| partial);
        // A duplicate id is caught by the unit tests; the first one stays.
        let _ = bundle.add_resource(resource);
    }
    bundle
}

fn bundle(lang: Lang) -> &'static Bundle {
    static EN: OnceLock<Bundle> = OnceLock::new();
    static AR: OnceLock<Bundle> = OnceLock::new();
    match lang {
        Lang::En => EN.get_or_init(|| build(Lang::En)),
        Lang::Ar => AR.get_or_init(|| build(Lang::Ar)),
    }
}

static CHOSEN: OnceLock<Lang> = OnceLock::new();

/// Chooses this process's language. The first choice holds: a later call
/// changes nothing (and says so), since messages already made would
/// otherwise mix two languages.
pub fn choose(lang: Lang) -> bool {
    CHOSEN.set(lang).is_ok()
}

/// This process's language (English until one is chosen).
pub fn lang() -> Lang {
    CHOSEN.get().copied().unwrap_or(Lang::En)
}

/// A message argument: text or a number (a number picks plural forms).
pub enum Arg<'a> {
    /// Text, shown as it is.
    Text(std::borrow::Cow<'a, str>),
    /// A count, which Fluent's plural rules read (Arabic has six forms).
    Count(u64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(std::borrow::Cow::Borrowed(s))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Text(std::borrow::Cow::Borrowed(s.as_str()))
    }
}

impl From<String> for Arg<'_> {
    fn from(s: String) -> Self {
        Arg::Text(std::borrow::Cow::Owned(s))
    }
}

macro_rules! count_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg<'_> {
            fn from(n: $t) -> Self {
                Arg::Count(n as u64)
            }
        }
    )*};
}
count_arg!(u8, u16, u32, u64, usize);

/// The message `id` in `lang`, with its arguments. A message missing from
/// `lang` falls back to English; one missing from both is shown as its id
/// (the unit tests keep that from happening).
pub fn message_in(lang: Lang, id: &str, args: &[(&str, Arg<'_>)]) -> String {
    format_in(bundle(lang), id, args)
        .or_else(|| (lang != Lang::En).then(|| format_in(bundle(Lang::En), id, args)).flatten())
        .unwrap_or_else(|| id.to_owned())
}

/// The message `id` in this process's language.
pub fn message(id: &str, args: &[(&str, Arg<'_>)]) -> String {
    message_in(lang(), id, args)
}

fn format_in(bundle: &Bundle, id: &str, args: &[(&str, Arg<'_>)]) -> Option<String> {
    let pattern = bundle.get_message(id)?.value()?;
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        let value = match value {
            Arg::Text(s) => FluentValue::from(s.to_string()),
            Arg::Count(n) => FluentValue::from(*n),
        };
        fluent_args.set(*name, value);
    }
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
    Some(text.into_owned())
}

/// Every message id and its text in `lang`, for the web interface's page
/// (its own strings only: those whose id starts with `prefix`).
pub fn messages_with_prefix(lang: Lang, prefix: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for source in sources(lang) {
        let Ok(resource) = FluentResource::try_new((*source).to_owned()) else { continue };
        for entry in resource.entries() {
            if let fluent_syntax::ast::Entry::Message(m) = entry {
                let id = m.id.name;
                if id.starts_with(prefix) {
                    out.push((id.to_owned(), message_in(lang, id, &[])));
                }
            }
        }
    }
    out
}

/// `t!("id")` or `t!("id", name = value, …)`: the message in this process's
/// language. Values are text (`&str`, `String`) or counts (integers).
#[macro_export]
macro_rules! t {
    ($id:literal) => {
        $crate::i18n::message($id, &[])
    };
    ($id:literal, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::i18n::message($id, &[$((stringify!($name), $crate::i18n::Arg::from($value))),+])
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluent_syntax::ast;
    use std::collections::{BTreeMap, BTreeSet};

    /// Each message id of `lang`, with the variables it uses.
    fn catalogue(lang: Lang) -> BTreeMap<String, BTreeSet<String>> {
        let mut out = BTreeMap::new();
        for source in sources(lang) {
            let resource = match FluentResource::try_new((*source).to_owned()) {
                Ok(r) => r,
                Err((_, errors)) => panic!("{} does not parse: {errors:?}", lang.code()),
            };
            for entry in resource.entries() {
                if let ast::Entry::Message(m) = entry {
                    let mut vars = BTreeSet::new();
                    if let Some(p) = &m.value {
                        variables(p, &mut vars);
                    }
                    let fresh = out.insert(m.id.name.to_owned(), vars).is_none();
                    assert!(fresh, "{}: {} defined twice", lang.code(), m.id.name);
                }
            }
        }
        out
    }

    fn variables(pattern: &ast::Pattern<&str>, out: &mut BTreeSet<String>) {
        for element in &pattern.elements {
            if let ast::PatternElement::Placeable { expression } = element {
                expression_variables(expression, out);
            }
        }
    }

    fn expression_variables(expression: &ast::Expression<&str>, out: &mut BTreeSet<String>) {
        match expression {
            ast::Expression::Select { selector, variants } => {
                inline_variables(selector, out);
                for v in variants {
                    variables(&v.value, out);
                }
            }
            ast::Expression::Inline(inline) => inline_variables(inline, out),
        }
    }

    fn inline_variables(inline: &ast::InlineExpression<&str>, out: &mut BTreeSet<String>) {
        match inline {
            ast::InlineExpression::VariableReference { id } => {
                out.insert(id.name.to_owned());
            }
            ast::InlineExpression::Placeable { expression } => expression_variables(expression, out),
            _ => {}
        }
    }

    #[test]
    fn both_languages_have_the_same_messages_with_the_same_variables() {
        let en = catalogue(Lang::En);
        let ar = catalogue(Lang::Ar);
        let only_en: Vec<_> = en.keys().filter(|k| !ar.contains_key(*k)).collect();
        let only_ar: Vec<_> = ar.keys().filter(|k| !en.contains_key(*k)).collect();
        assert!(only_en.is_empty(), "not translated into Arabic: {only_en:?}");
        assert!(only_ar.is_empty(), "in Arabic only: {only_ar:?}");
        for (id, vars) in &en {
            assert_eq!(Some(vars), ar.get(id), "{id}: the Arabic uses other variables");
        }
    }

    /// Every `t!("id"…)` in the client's sources names a message that exists.
    #[test]
    fn every_message_the_code_asks_for_exists() {
        let en = catalogue(Lang::En);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut missing = Vec::new();
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
                let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                // This file names the macro in its documentation.
                if path.extension().and_then(|e| e.to_str()) != Some("rs") || path.ends_with("i18n.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let mut rest = text.as_str();
                while let Some(at) = rest.find("t!(\"") {
                    // `format!(` and the like end the same way: only a `t!`
                    // that begins a word is ours.
                    let starts_word = !rest[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
                    rest = &rest[at + 4..];
                    let id = rest.split('"').next().unwrap_or("");
                    if starts_word && !en.contains_key(id) {
                        missing.push(format!("{}: {id}", path.display()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "messages the code uses but no file defines: {missing:?}");
    }

    #[test]
    fn a_locale_picks_its_language() {
        assert_eq!(Lang::parse("ar_IQ.UTF-8"), Some(Lang::Ar));
        assert_eq!(Lang::parse("ar"), Some(Lang::Ar));
        assert_eq!(Lang::parse("en-GB"), Some(Lang::En));
        assert_eq!(Lang::parse("C.UTF-8"), None);
        assert_eq!(Lang::parse("fr_FR"), None);
    }

    #[test]
    fn arabic_plurals_and_isolation() {
        let one = message_in(Lang::Ar, "common-contacts-count", &[("count", Arg::Count(1))]);
        let many = message_in(Lang::Ar, "common-contacts-count", &[("count", Arg::Count(11))]);
        assert_ne!(one, many);
        let en = message_in(Lang::En, "common-contacts-count", &[("count", Arg::Count(2))]);
        assert_eq!(en, "2 contacts");
        assert!(!en.contains('\u{2068}'), "English output carries no isolation marks");
    }
}
