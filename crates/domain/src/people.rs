//! Who people are to Quartier: their role, language, name and address.

use std::fmt;
use std::str::FromStr;

use crate::DomainError;

/// What a signed-in person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Books visits.
    Customer,
    /// Does the visits.
    Helper,
    /// Vets helpers and resolves disputes. Never self-registered.
    Operator,
}

impl Role {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Helper => "helper",
            Role::Operator => "operator",
        }
    }
}

impl FromStr for Role {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "customer" => Ok(Role::Customer),
            "helper" => Ok(Role::Helper),
            "operator" => Ok(Role::Operator),
            other => Err(DomainError::InvalidRole(other.chars().take(32).collect())),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The languages Quartier speaks: the three Swiss national languages used in the region and English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Locale {
    /// German.
    #[default]
    De,
    /// French.
    Fr,
    /// Italian.
    It,
    /// English.
    En,
}

impl Locale {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::De => "de",
            Locale::Fr => "fr",
            Locale::It => "it",
            Locale::En => "en",
        }
    }
}

impl FromStr for Locale {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "de" => Ok(Locale::De),
            "fr" => Ok(Locale::Fr),
            "it" => Ok(Locale::It),
            "en" => Ok(Locale::En),
            other => Err(DomainError::InvalidLocale(other.chars().take(16).collect())),
        }
    }
}

/// A normalised e-mail address (trimmed, lower-cased), checked for a plausible shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses and normalises an address. The check is deliberately modest: one `@`, a non-empty
    /// local part, a domain with a dot, no spaces or control characters, at most 254 characters.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim().to_lowercase();
        let bad = || DomainError::InvalidEmail(raw.chars().take(64).collect());
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || domain.contains('@') || !domain_ok {
            return Err(bad());
        }
        Ok(Self(s))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name: 1 to 100 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// Parses a display name.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim();
        let n = s.chars().count();
        if n == 0 || n > 100 || s.chars().any(char::is_control) {
            return Err(DomainError::InvalidName);
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A skill a helper has and a service needs, such as `wifi` or `smart_home`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Skill(String);

impl Skill {
    /// Parses a skill name: 2 to 32 lower-case ASCII letters, digits or underscores.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let ok = (2..=32).contains(&raw.len()) && raw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            return Err(DomainError::InvalidSkill(raw.chars().take(32).collect()));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The skill's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(Email::parse("  Anna@Example.CH ").expect("valid").as_str(), "anna@example.ch");
    }

    #[test]
    fn implausible_emails_are_refused() {
        for bad in ["", "anna", "anna@", "@example.ch", "anna@example", "an na@example.ch", "a@b@c.ch", "anna@.ch", "anna@ex..ch"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn roles_and_locales_round_trip() {
        for r in [Role::Customer, Role::Helper, Role::Operator] {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        for l in [Locale::De, Locale::Fr, Locale::It, Locale::En] {
            assert_eq!(l.as_str().parse::<Locale>(), Ok(l));
        }
        assert!("admin".parse::<Role>().is_err());
    }

    #[test]
    fn names_and_skills_have_limits() {
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse(&"x".repeat(101)).is_err());
        assert!(Skill::parse("smart_home").is_ok());
        assert!(Skill::parse("Smart Home").is_err());
    }
}
