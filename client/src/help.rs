//! `aman --help` in the language of every message: each command's and
//! argument's help comes from `help.ftl` by an id derived from its place in
//! the tree (`help-cmd-trip-start`, `help-arg-trip-start-back-by`,
//! `help-arg-global-json`), as do the headings and the help clap adds itself
//! (`-h`, `-V`, the `help` subcommand). The English file holds the doc
//! comments' text as clap makes it, so English help is what it always was.
//!
//! Clap's own messages (a usage error, "unexpected argument") have no hook
//! and stay English.

use aman_client::i18n;
use clap::{Arg, Command};
use std::ffi::OsString;

/// What clap writes itself, with our id for each.
const AUTO: [(&str, &str); 6] = [
    ("Print help", "help-auto-help"),
    ("Print help (see more with '--help')", "help-auto-help-more"),
    ("Print help (see a summary with '-h')", "help-auto-help-summary"),
    ("Print version", "help-auto-version"),
    ("Print this message or the help of the given subcommand(s)", "help-auto-help-command"),
    ("Print help for the subcommand(s)", "help-auto-help-command-arg"),
];

/// Clap's headings, which it writes in English when given none.
const HEADINGS: [(&str, &str); 4] = [
    ("Usage", "help-heading-usage"),
    ("Commands", "help-heading-commands"),
    ("Options", "help-heading-options"),
    ("Arguments", "help-heading-arguments"),
];

/// The command tree with every help text in this process's language.
pub fn localized(cmd: Command) -> Command {
    let lang = i18n::lang();
    localized_with(cmd, &mut |id, english| {
        let text = i18n::message_in(lang, id, &[]);
        // A missing message shows its id: the English text is better.
        if text == id {
            english.to_owned()
        } else {
            text
        }
    })
}

/// The tree with each text replaced by `text(id, clap's English)`.
fn localized_with(mut cmd: Command, text: &mut dyn FnMut(&str, &str) -> String) -> Command {
    // Built, the tree holds the arguments and subcommands clap adds itself
    // and the global arguments copied into every subcommand.
    cmd.build();
    // Clap takes a heading only as `&'static str` (without its `string`
    // feature): the four are made once per process.
    let headings: Vec<(&str, &'static str)> =
        HEADINGS.iter().map(|(en, id)| (*en, &*Box::leak(text(id, en).into_boxed_str()))).collect();
    walk(cmd, &[], text, &headings)
}

fn walk(
    mut cmd: Command,
    path: &[String],
    text: &mut dyn FnMut(&str, &str) -> String,
    headings: &[(&str, &'static str)],
) -> Command {
    let place = if path.is_empty() { "aman".to_owned() } else { path.join("-") };
    // A text clap wrote itself has its own id; any other is named by its place.
    let mut swap = |english: String, id: String| text(auto_id(&english).unwrap_or(&id), &english);
    if let Some(about) = cmd.get_about().map(ToString::to_string) {
        cmd = cmd.about(swap(about, format!("help-cmd-{place}")));
    }
    if let Some(long) = cmd.get_long_about().map(ToString::to_string) {
        cmd = cmd.long_about(swap(long, format!("help-cmd-{place}-long")));
    }
    // Each argument, by its own id (a global one by the root's: it is the same).
    let args: Vec<Arg> = cmd.get_arguments().cloned().collect();
    for arg in args {
        let owner = if arg.is_global_set() { "global".to_owned() } else { place.clone() };
        let name = arg.get_id().as_str().replace('_', "-");
        let mut new = arg.clone();
        if let Some(help) = arg.get_help().map(ToString::to_string) {
            new = new.help(swap(help, format!("help-arg-{owner}-{name}")));
        }
        if let Some(long) = arg.get_long_help().map(ToString::to_string) {
            new = new.long_help(swap(long, format!("help-arg-{owner}-{name}-long")));
        }
        if let Some(heading) = localized_heading(headings, if arg.is_positional() { "Arguments" } else { "Options" }) {
            new = new.help_heading(heading);
        }
        cmd = cmd.mut_arg(arg.get_id().as_str(), |_| new);
    }
    if let Some(heading) = localized_heading(headings, "Commands") {
        cmd = cmd.subcommand_help_heading(heading);
    }
    if let Some(heading) = localized_heading(headings, "Usage") {
        let style = cmd.get_styles().get_usage();
        let usage = format!("{}{heading}:{}", style.render(), style.render_reset());
        // Clap's default template, with the heading written out.
        cmd = cmd.help_template(format!(
            "{{before-help}}{{about-with-newline}}\n{usage} {{usage}}\n\n{{all-args}}{{after-help}}"
        ));
    }
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    for name in names {
        let mut sub_path = path.to_vec();
        // The `help` subcommand clap adds mirrors the tree beside it: its
        // commands take the ids of the ones they mirror.
        let mirror =
            cmd.find_subcommand(&name).and_then(Command::get_about).is_some_and(|a| a.to_string() == AUTO[4].0);
        if !mirror {
            sub_path.push(name.clone());
        }
        cmd = cmd.mut_subcommand(&name, |sub| walk(sub, &sub_path, text, headings));
    }
    cmd
}

fn auto_id(english: &str) -> Option<&'static str> {
    AUTO.iter().find(|(en, _)| *en == english).map(|(_, id)| *id)
}

/// A heading in this language, when it is not clap's own English one.
fn localized_heading(headings: &[(&str, &'static str)], english: &str) -> Option<&'static str> {
    headings.iter().find(|(en, _)| *en == english).map(|(_, t)| *t).filter(|t| *t != english)
}

/// The language `--lang X`, `--lang=X` or `$AMAN_LANG` asks for, read before
/// clap parses anything so that `--help` is already in it. `None`: none
/// asked for (the locale decides).
pub fn requested_lang(args: impl IntoIterator<Item = OsString>, env: Option<OsString>) -> Option<String> {
    let mut args = args.into_iter().skip(1);
    while let Some(arg) = args.next() {
        let Some(arg) = arg.to_str() else { continue };
        if arg == "--" {
            break;
        }
        if arg == "--lang" {
            return args.next().map(|v| v.to_string_lossy().into_owned());
        }
        if let Some(value) = arg.strip_prefix("--lang=") {
            return Some(value.to_owned());
        }
    }
    env.map(|v| v.to_string_lossy().into_owned()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aman_client::i18n::Lang;
    use clap::CommandFactory;

    /// Every id the tree asks for, with clap's English for it.
    fn needed() -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        localized_with(crate::Cli::command(), &mut |id, english| {
            if !out.iter().any(|(i, _)| i == id) {
                out.push((id.to_owned(), english.to_owned()));
            }
            english.to_owned()
        });
        out
    }

    /// No command or argument is left without its message, in either
    /// language, and the English one is what clap made of the doc comment.
    #[test]
    fn every_help_text_has_its_message() {
        let needed = needed();
        assert!(needed.iter().any(|(id, _)| id == "help-arg-trip-start-back-by"), "{needed:?}");
        assert!(needed.iter().any(|(id, _)| id == "help-arg-global-json"), "{needed:?}");
        let mut missing = Vec::new();
        let mut changed = Vec::new();
        for (id, english) in &needed {
            for lang in Lang::ALL {
                if i18n::message_in(lang, id, &[]) == *id {
                    missing.push(format!("{}: {id}", lang.code()));
                }
            }
            let en = i18n::message_in(Lang::En, id, &[]);
            if en != *english {
                changed.push(format!("{id}: clap has {english:?}, help.ftl {en:?}"));
            }
        }
        assert!(missing.is_empty(), "help texts without a message: {missing:?}");
        assert!(changed.is_empty(), "English help that would change: {changed:?}");
    }

    /// The Arabic tree carries Arabic, headings included.
    #[test]
    fn arabic_help_is_arabic() {
        let mut ar = localized_with(crate::Cli::command(), &mut |id, _| i18n::message_in(Lang::Ar, id, &[]));
        let trip = ar.find_subcommand_mut("trip").and_then(|t| t.find_subcommand_mut("start")).map(|s| s.render_help());
        let text = trip.map(|t| t.to_string()).unwrap_or_default();
        assert!(text.contains("ابدأ رحلة"), "{text}");
        assert!(text.contains("الاستخدام:") && text.contains("الخيارات:"), "{text}");
        assert!(text.contains("--back-by <TIME>"), "{text}");
        let top = ar.render_help().to_string();
        assert!(top.contains("الأوامر:") && top.contains("اطبع المساعدة"), "{top}");
        assert!(!top.contains("Options:") && !top.contains("Commands:"), "{top}");
    }

    #[test]
    fn the_language_is_read_before_parsing() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(requested_lang(args(&["aman", "--lang", "ar", "--help"]), None).as_deref(), Some("ar"));
        assert_eq!(requested_lang(args(&["aman", "trip", "--lang=ar"]), None).as_deref(), Some("ar"));
        assert_eq!(requested_lang(args(&["aman", "--lang=en"]), Some("ar".into())).as_deref(), Some("en"));
        assert_eq!(requested_lang(args(&["aman", "--help"]), Some("ar".into())).as_deref(), Some("ar"));
        assert_eq!(requested_lang(args(&["aman", "--help"]), Some("".into())), None);
        assert_eq!(requested_lang(args(&["aman", "--", "--lang", "ar"]), None), None);
    }
}
