//! [`RunId`]: the one format of a run's id, checked wherever an id enters berth
//! (engine labels, run records, record directory names, command-line arguments).
//!
//! A run id is exactly 12 lowercase hex digits. Anything else, an empty string or a
//! `../` path included, fails to parse, so a value read from outside (an image's
//! own `LABEL`s are copied onto every container run from it) can never name a path
//! outside the run store.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// The id of one run: 12 lowercase hex digits, as [`RunId::random`] makes them.
///
/// It is safe to join onto a directory: it holds no `/`, no `.` and is never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(String);

impl RunId {
    /// The number of hex digits in a run id.
    pub(crate) const LEN: usize = 12;

    /// A fresh id from the kernel's random source (the clock and pid when it cannot
    /// be read).
    pub fn random() -> Self {
        use std::io::Read;
        let mut bytes = [0u8; Self::LEN / 2];
        let filled = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .is_ok();
        if !filled {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let mixed = nanos ^ (u128::from(std::process::id()) << 64);
            bytes.copy_from_slice(&mixed.to_le_bytes()[..Self::LEN / 2]);
        }
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Checks `value` without allocating; `Err` says what is wrong with it.
    fn check(value: &str) -> Result<(), &'static str> {
        if value.len() != Self::LEN {
            return Err("a run id is exactly 12 characters");
        }
        if !value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err("a run id holds only the digits 0-9 and a-f");
        }
        Ok(())
    }

    /// Parses a run id; see [`RunId`] for the format.
    pub fn parse(value: &str) -> Result<Self, Error> {
        Self::check(value).map_err(|reason| Error::InvalidRunId {
            value: value.escape_debug().to_string(),
            reason,
        })?;
        Ok(Self(value.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 8 digits, used to make sandbox names unique.
    pub fn short(&self) -> &str {
        &self.0[..8]
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for RunId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for RunId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<std::path::Path> for RunId {
    fn as_ref(&self) -> &std::path::Path {
        self.0.as_ref()
    }
}

impl FromStr for RunId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for RunId {
    type Error = Error;

    fn try_from(value: &str) -> Result<Self, Error> {
        Self::parse(value)
    }
}

impl TryFrom<String> for RunId {
    type Error = Error;

    fn try_from(value: String) -> Result<Self, Error> {
        Self::check(&value).map_err(|reason| Error::InvalidRunId {
            value: value.escape_debug().to_string(),
            reason,
        })?;
        Ok(Self(value))
    }
}

impl PartialEq<str> for RunId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RunId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for RunId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl Serialize for RunId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RunId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::try_from(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_have_the_one_format_and_differ() {
        let (a, b) = (RunId::random(), RunId::random());
        assert!(RunId::check(a.as_str()).is_ok(), "{a}");
        assert_eq!(RunId::parse(a.as_str()).ok().as_ref(), Some(&a));
        assert_ne!(a, b);
        assert_eq!(a.short().len(), 8);
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "../../../canary",
            "..",
            "0123456789a",
            "0123456789abc",
            "0123456789AB",
            "01234567/9ab",
            "0123456789ag",
            "01234567890\u{e9}",
            " 0123456789ab",
            "lock",
        ] {
            let err = RunId::parse(bad).expect_err(bad);
            assert!(matches!(err, Error::InvalidRunId { .. }), "{bad}: {err}");
        }
        assert!(RunId::parse("0123456789ab").is_ok());
    }

    #[test]
    fn serde_checks_the_format() {
        let id: RunId = serde_json::from_str("\"deadbeef0001\"").expect("valid");
        assert_eq!(
            serde_json::to_string(&id).ok().as_deref(),
            Some("\"deadbeef0001\"")
        );
        let err = serde_json::from_str::<RunId>("\"../../x\"").expect_err("path");
        assert!(err.to_string().contains("run id"), "{err}");
        assert!(serde_json::from_str::<RunId>("\"\"").is_err());
    }
}
