//! The page, its script and its style, embedded in the binary: nothing is
//! loaded from anywhere else, and nobody but this program serves them.

use crate::i18n::{self, Lang};
use hyper::body::Bytes;
use serde_json::{Map, Value};

/// An embedded file and its type.
pub struct Asset {
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: Bytes,
}

const INDEX: &str = include_str!("../../ui/index.html");
const SCRIPT: &str = include_str!("../../ui/app.js");
const STYLE: &str = include_str!("../../ui/style.css");

/// The file at `path`, if it is one of ours.
pub fn get(path: &str) -> Option<Asset> {
    match path {
        "/" | "/index.html" => {
            Some(Asset { content_type: "text/html; charset=utf-8", body: Bytes::from(page(i18n::lang())) })
        }
        "/app.js" => {
            Some(Asset { content_type: "text/javascript; charset=utf-8", body: Bytes::from_static(SCRIPT.as_bytes()) })
        }
        "/style.css" => {
            Some(Asset { content_type: "text/css; charset=utf-8", body: Bytes::from_static(STYLE.as_bytes()) })
        }
        _ => None,
    }
}

/// The interface's own strings (ids starting `ui-`) in `lang`, as the page
/// reads them: a JSON object from id to text, safe inside a `<script>` data
/// block (no `<`, so no `</script>`).
pub fn strings_json(lang: Lang) -> String {
    let map: Map<String, Value> =
        i18n::messages_with_prefix(lang, "ui-").into_iter().map(|(id, text)| (id, Value::String(text))).collect();
    Value::Object(map).to_string().replace('<', "\\u003c")
}

/// The page in `lang`: its language and direction set, its strings inline.
pub fn page(lang: Lang) -> String {
    INDEX
        .replace("{{lang}}", lang.code())
        .replace("{{dir}}", lang.dir())
        .replace("{{title}}", &html_escape(&i18n::message_in(lang, "ui-title", &[])))
        .replace("{{strings}}", &strings_json(lang))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arabic_page_is_right_to_left_and_has_every_string() {
        let ar = page(Lang::Ar);
        assert!(ar.contains(r#"<html lang="ar" dir="rtl">"#));
        let en = page(Lang::En);
        assert!(en.contains(r#"<html lang="en" dir="ltr">"#));
        assert!(!ar.contains("{{") && !en.contains("{{"), "every placeholder is filled");
        let en_ids: Vec<_> = i18n::messages_with_prefix(Lang::En, "ui-").into_iter().map(|(id, _)| id).collect();
        let ar_ids: Vec<_> = i18n::messages_with_prefix(Lang::Ar, "ui-").into_iter().map(|(id, _)| id).collect();
        assert_eq!(en_ids, ar_ids);
        assert!(en_ids.len() > 20);
    }

    /// Every `data-t="…"` and `t("…")` the page and its script use is a
    /// string the page is given.
    #[test]
    fn every_string_the_page_uses_exists() {
        let ids: std::collections::BTreeSet<String> =
            i18n::messages_with_prefix(Lang::En, "ui-").into_iter().map(|(id, _)| id).collect();
        let mut missing = Vec::new();
        for (source, opener) in [(INDEX, "data-t=\""), (SCRIPT, "t('"), (SCRIPT, "tNodes('")] {
            let mut rest = source;
            while let Some(at) = rest.find(opener) {
                // `split(` and the like end the same way: only a call that
                // begins a word is ours.
                let starts_word = !rest[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.');
                rest = &rest[at + opener.len()..];
                let id = rest.split(['"', '\'']).next().unwrap_or("");
                if starts_word && !ids.contains(id) {
                    missing.push(id.to_owned());
                }
            }
        }
        assert!(missing.is_empty(), "strings the page uses but no file defines: {missing:?}");
    }

    #[test]
    fn strings_cannot_end_the_script_block() {
        assert!(!strings_json(Lang::En).contains('<'));
    }
}
