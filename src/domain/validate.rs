//! Input policies shared by every operation that accepts them (Dify's email and password rules).

use std::sync::LazyLock;

use regex::Regex;

/// Dify's email pattern (`libs/helper.py`), with `\w` read as ASCII: the same rule is the
/// `pattern` of every e-mail field in openapi/console.yaml, where clients and contract
/// tests read it, and JSON Schema's `\w` is ASCII.
static EMAIL: LazyLock<Result<Regex, regex::Error>> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_.!#$%&'*+\-/=?^`{|}~]+@([A-Za-z0-9_-]+\.)+[A-Za-z0-9_-]{2,}$")
});

pub const PASSWORD_RULE: &str =
    "Password must contain letters and numbers, and the length must be greater than 8.";

/// The email, trimmed and lower-cased, or the message Dify gives for a bad one.
pub fn email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 255
        && EMAIL
            .as_ref()
            .map(|re| re.is_match(&email))
            .unwrap_or(false);
    if valid {
        Ok(email)
    } else {
        Err(format!("{raw} is not a valid email."))
    }
}

/// Dify's policy: at least 8 characters, with a letter and a digit.
pub fn password(raw: &str) -> Result<(), String> {
    let long_enough = raw.chars().count() >= 8;
    let letter = raw.chars().any(|c| c.is_ascii_alphabetic());
    let digit = raw.chars().any(|c| c.is_ascii_digit());
    if long_enough && letter && digit {
        Ok(())
    } else {
        Err(PASSWORD_RULE.to_string())
    }
}

/// A display name: trimmed, 1 to `max` characters.
pub fn name(raw: &str, max: usize) -> Result<String, String> {
    let name = raw.trim();
    let count = name.chars().count();
    if count == 0 || count > max {
        Err(format!("Name must be between 1 and {max} characters."))
    } else {
        Ok(name.to_string())
    }
}

/// An IANA time zone name (`Asia/Shanghai`, `UTC`), exactly as the tz database spells it.
pub fn timezone(raw: &str) -> Result<String, String> {
    raw.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_string())
        .map_err(|_| format!("{raw} is not an IANA time zone name, such as Asia/Shanghai."))
}

/// A supported interface language, exactly as listed.
pub fn known_language(raw: &str) -> Result<&'static str, String> {
    LANGUAGES
        .iter()
        .find(|(code, _)| *code == raw)
        .map(|(code, _)| *code)
        .ok_or_else(|| format!("{raw} is not a supported interface language."))
}

/// The interface languages the console ships, with the timezone a new account gets.
const LANGUAGES: &[(&str, &str)] = &[
    ("en-US", "America/New_York"),
    ("zh-Hans", "Asia/Shanghai"),
    ("zh-Hant", "Asia/Taipei"),
    ("ja-JP", "Asia/Tokyo"),
    ("ko-KR", "Asia/Seoul"),
    ("de-DE", "Europe/Berlin"),
    ("fr-FR", "Europe/Paris"),
    ("es-ES", "Europe/Madrid"),
    ("pt-BR", "America/Sao_Paulo"),
    ("ru-RU", "Europe/Moscow"),
    ("it-IT", "Europe/Rome"),
    ("vi-VN", "Asia/Ho_Chi_Minh"),
];

/// A supported language and its timezone; unknown or missing languages fall back to en-US,
/// as Dify does.
pub fn language(raw: Option<&str>) -> (&'static str, &'static str) {
    raw.and_then(|l| LANGUAGES.iter().find(|(code, _)| *code == l))
        .copied()
        .unwrap_or(LANGUAGES[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            email(" Admin@Example.COM ").as_deref(),
            Ok("admin@example.com")
        );
        assert!(email("a.b+c@sub.example.org").is_ok());
        for bad in [
            "",
            "plain",
            "a@b",
            "a@b.c",
            "@example.com",
            "a b@example.com",
            "a@exa\nmple.com",
        ] {
            assert!(email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn timezones_are_iana_names() {
        assert_eq!(timezone("Asia/Shanghai").as_deref(), Ok("Asia/Shanghai"));
        assert_eq!(timezone("UTC").as_deref(), Ok("UTC"));
        for bad in ["Mars/Olympus", "asia/shanghai", "", "Asia/Shanghai "] {
            assert!(timezone(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn passwords() {
        assert!(password("abcdefg1").is_ok());
        for bad in ["abcdefgh", "12345678", "abc123", ""] {
            assert_eq!(password(bad), Err(PASSWORD_RULE.to_string()), "{bad:?}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(name("  zgi ", 30).as_deref(), Ok("zgi"));
        assert!(name("   ", 30).is_err());
        assert!(name(&"x".repeat(31), 30).is_err());
        assert!(name(&"界".repeat(30), 30).is_ok());
    }

    #[test]
    fn languages() {
        assert_eq!(language(Some("zh-Hans")), ("zh-Hans", "Asia/Shanghai"));
        assert_eq!(language(Some("xx")), ("en-US", "America/New_York"));
        assert_eq!(language(None).0, "en-US");
    }
}
