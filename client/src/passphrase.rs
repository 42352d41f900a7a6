//! Rules for a new passphrase: strong enough that a seized keystore does
//! not fall to a guessing run, and a duress passphrase far enough from the
//! normal one that a typo never sends a silent alert.

use crate::error::ClientError;
use zeroize::Zeroizing;
use zxcvbn::Score;

/// The lowest zxcvbn score accepted: below it the estimator calls a
/// passphrase "too guessable" (fewer than about 10^6 guesses), which an
/// Argon2id keystore on a seized phone does not survive for long.
const MIN_SCORE: Score = Score::Two;

/// Fewer edits than this between the normal and the duress passphrase is
/// "too close": one slip of the thumb must not turn a check-in into a
/// silent alert (or the other way round).
const MIN_EDITS: usize = 3;

/// Refuses a new passphrase the strength estimator rates very weak, saying
/// why. `which` names it as the person reads it ("passphrase", "duress
/// passphrase", in the interface's language). The estimator's own warning
/// and suggestions come in English.
pub fn check_strength(which: &str, passphrase: &str, context: &[&str]) -> Result<(), ClientError> {
    let estimate = zxcvbn::zxcvbn(passphrase, context);
    if estimate.score() >= MIN_SCORE {
        return Ok(());
    }
    let mut sentences = vec![crate::t!("member-passphrase-too-easy", which = which)];
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            sentences[0].push_str(&format!(" ({})", warning.to_string().trim_end_matches('.')));
        }
        sentences.extend(feedback.suggestions().iter().map(|s| s.to_string().trim_end_matches('.').to_owned()));
    }
    sentences.push(crate::t!("member-passphrase-advice"));
    Err(ClientError::State(format!("{}.", sentences.join(". "))))
}

/// Refuses a duress passphrase that is the normal one or close to it.
pub fn check_pair(normal: &str, duress: &str) -> Result<(), ClientError> {
    let fold = |s: &str| {
        let lower = Zeroizing::new(s.trim().to_lowercase());
        Zeroizing::new(lower.chars().filter(|c| !c.is_whitespace()).collect::<Vec<char>>())
    };
    if edit_distance(&fold(normal), &fold(duress)) < MIN_EDITS {
        return Err(ClientError::State(crate::t!("member-duress-too-close")));
    }
    Ok(())
}

/// Levenshtein distance over characters.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb)).min(above + 1).min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passphrases_are_refused_and_strong_ones_taken() {
        for weak in ["a", "password", "12345678", "n0rmal", "qwertyuiop"] {
            assert!(check_strength("passphrase", weak, &[]).is_err(), "{weak}");
        }
        for strong in ["river-lamp-orchid-42", "نخلة قمر شارع بعيد", "correct horse battery staple"] {
            assert!(check_strength("passphrase", strong, &[]).is_ok(), "{strong}");
        }
        let why = check_strength("duress passphrase", "a", &[]).unwrap_err().to_string();
        assert!(why.starts_with("the duress passphrase is too easy to guess"), "{why}");
        assert!(!why.contains(".."), "{why}");
    }

    #[test]
    fn a_duress_passphrase_close_to_the_normal_one_is_refused() {
        let normal = "river-lamp-orchid-42";
        for close in
            [normal, "river-lamp-orchid-43", "River Lamp-orchid-42", "river-lamp-orchid-4", "xriver-lamp-orchid-42x"]
        {
            assert!(check_pair(normal, close).is_err(), "{close}");
        }
        assert!(check_pair(normal, "cloud-fig-tower-97").is_ok());
        assert_eq!(edit_distance(&['a', 'b', 'c'], &['a', 'c']), 1);
        assert_eq!(edit_distance(&[], &['x', 'y']), 2);
    }
}
