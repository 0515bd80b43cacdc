//! Durations as people write them: `"90s"`, `"30m"`, `"2h"`, `"1d"`, `"1h30m"`.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A whole number of seconds, parsed from `1d2h3m4s`-style text; at most
/// ten years (3650d), so that adding one to a timestamp cannot overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The longest duration berth accepts anywhere: ten years (3650d).
    pub(crate) const MAX_SECS: u64 = 3650 * 86_400;
}

impl std::str::FromStr for HumanDuration {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "invalid duration `{raw}`: write a number and a unit, such as \"90s\", \"30m\", \"2h\" or \"1d\""
            )
        };
        let s = raw.trim();
        if s.is_empty() {
            return Err(bad());
        }
        let mut total: u64 = 0;
        let mut digits = String::new();
        for c in s.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => return Err(bad()),
            };
            let n: u64 = digits.parse().map_err(|_| bad())?;
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(bad)?;
            digits.clear();
        }
        if !digits.is_empty() || total == 0 {
            return Err(bad());
        }
        if total > Self::MAX_SECS {
            return Err(format!(
                "duration `{raw}` is too long: berth accepts at most 3650d (ten years)"
            ));
        }
        Ok(Self(Duration::from_secs(total)))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut secs = self.0.as_secs();
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        if secs > 0 || self.0.as_secs() == 0 {
            write!(f, "{secs}s")?;
        }
        Ok(())
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"2h\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::HumanDuration;

    #[test]
    fn parses_and_prints() {
        let d = |s: &str| s.parse::<HumanDuration>().map(|d| d.0.as_secs());
        assert_eq!(d("90s"), Ok(90));
        assert_eq!(d("30m"), Ok(1800));
        assert_eq!(d("1h30m"), Ok(5400));
        assert_eq!(d("2d"), Ok(172_800));
        assert!(d("").is_err());
        assert!(d("5").is_err());
        assert!(d("0s").is_err());
        assert!(d("1w").is_err());
        assert!(d("9223372036854775807s").is_err());
        assert!(d("99999999999999999999999s").is_err());
        assert!(d("3651d").is_err());
        assert_eq!(d("3650d"), Ok(HumanDuration::MAX_SECS));
        assert!(d("é").is_err());
        assert_eq!(
            "1h30m".parse::<HumanDuration>().unwrap().to_string(),
            "1h30m"
        );
    }
}
