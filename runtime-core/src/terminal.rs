//! What a person at a terminal needs of a session besides its bytes: the key
//! sequence that detaches from it and leaves its process running.
//!
//! [`DetachKeys`] is written as Docker writes it (`ctrl-p,ctrl-q`, its default),
//! and a [`DetachScanner`] finds it in what the person types. The client watches
//! for the sequence itself, so detaching works the same on every backend; Docker's
//! engine, which has an escape sequence of its own, is told to use the same one
//! ([`crate::Runtime::attach_terminal`]), so that it never sees a whole sequence
//! the client has not already acted on.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// Docker's default detach sequence, ctrl-p then ctrl-q.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// A detach key sequence: one or more keys, each a byte a terminal sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKeys {
    bytes: Vec<u8>,
}

impl DetachKeys {
    /// The bytes the terminal sends for the sequence.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl Default for DetachKeys {
    /// ctrl-p, ctrl-q.
    fn default() -> Self {
        Self {
            bytes: vec![0x10, 0x11],
        }
    }
}

/// The names a control key may have after `ctrl-`, in the order of their bytes
/// from 0 (`ctrl-@`) to 31 (`ctrl-_`).
const CONTROL_NAMES: &[u8; 32] = b"@abcdefghijklmnopqrstuvwxyz[\\]^_";

impl FromStr for DetachKeys {
    type Err = Error;

    /// Parses Docker's form: keys separated by commas, each a single printable
    /// ASCII character, `ctrl-` and one of `a`-`z`, `@`, `[`, `\`, `]`, `^`, `_`,
    /// or `DEL`.
    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = |key: &str, why: &str| Error::Usage {
            message: format!(
                "detach keys {text:?}: {key:?} {why}; write keys as Docker does, separated by commas, each a single character or ctrl-<a-z, @, [, \\, ], ^ or _> (such as {DEFAULT_DETACH_KEYS})"
            ),
        };
        let mut bytes = Vec::new();
        for key in text.split(',') {
            let byte = match key.as_bytes() {
                [] => return Err(bad(key, "is empty")),
                [one] if one.is_ascii_graphic() => *one,
                [one] if *one == b' ' => return Err(bad(key, "is a space")),
                _ if key == "DEL" => 0x7f,
                _ => match key.strip_prefix("ctrl-").map(str::as_bytes) {
                    Some([name]) => {
                        let name = name.to_ascii_lowercase();
                        let code = CONTROL_NAMES
                            .iter()
                            .position(|c| *c == name)
                            .ok_or_else(|| bad(key, "names no control key"))?;
                        u8::try_from(code).map_err(|_| bad(key, "names no control key"))?
                    }
                    _ => return Err(bad(key, "is not a key")),
                },
            };
            bytes.push(byte);
        }
        Ok(Self { bytes })
    }
}

impl fmt::Display for DetachKeys {
    /// Docker's form, as its engine takes it: `ctrl-p,ctrl-q`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.bytes.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match byte {
                0..=31 => write!(f, "ctrl-{}", char::from(CONTROL_NAMES[usize::from(*byte)]))?,
                0x7f => f.write_str("DEL")?,
                other => write!(f, "{}", char::from(*other))?,
            }
        }
        Ok(())
    }
}

/// What [`DetachScanner::scan`] made of one read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scanned {
    /// The bytes to pass on to the process, in order.
    pub forward: Vec<u8>,
    /// Whether the sequence was completed: the person detached, and what they
    /// typed after it is dropped.
    pub detached: bool,
}

/// Finds a detach sequence in typed input, read by read. Bytes that may begin the
/// sequence are held back until the next byte decides: the sequence itself is
/// never passed on, and held bytes that turn out not to be it are passed on in
/// their order.
#[derive(Debug, Clone)]
pub struct DetachScanner {
    keys: DetachKeys,
    /// How many bytes of the sequence are held.
    held: usize,
}

impl DetachScanner {
    /// A scanner for `keys`.
    pub fn new(keys: DetachKeys) -> Self {
        Self { keys, held: 0 }
    }

    /// Scans the next bytes read.
    pub fn scan(&mut self, input: &[u8]) -> Scanned {
        let mut out = Scanned::default();
        for &byte in input {
            if self.push(byte, &mut out.forward) {
                out.detached = true;
                return out;
            }
        }
        out
    }

    /// Feeds one byte; true when it completes the sequence.
    fn push(&mut self, byte: u8, forward: &mut Vec<u8>) -> bool {
        let keys = self.keys.bytes();
        if keys.get(self.held) == Some(&byte) {
            self.held += 1;
            if self.held == keys.len() {
                self.held = 0;
                return true;
            }
            return false;
        }
        if self.held == 0 {
            forward.push(byte);
            return false;
        }
        // The held bytes are not the sequence after all: the first of them goes
        // out, and the rest, then this byte, are looked at again (they may begin
        // the sequence themselves).
        let again: Vec<u8> = keys[1..self.held].iter().copied().chain([byte]).collect();
        forward.push(keys[0]);
        self.held = 0;
        again.into_iter().any(|b| self.push(b, forward))
    }
}

#[cfg(test)]
mod tests {
    use super::{DEFAULT_DETACH_KEYS, DetachKeys, DetachScanner, Scanned};

    fn keys(text: &str) -> DetachKeys {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn keys_parse_as_docker_writes_them_and_print_back() {
        assert_eq!(keys(DEFAULT_DETACH_KEYS), DetachKeys::default());
        assert_eq!(DetachKeys::default().bytes(), [0x10, 0x11]);
        assert_eq!(keys("ctrl-x").bytes(), [0x18]);
        assert_eq!(keys("ctrl-@,ctrl-\\,ctrl-_").bytes(), [0, 0x1c, 0x1f]);
        assert_eq!(keys("a,ctrl-A,DEL").bytes(), [b'a', 1, 0x7f]);
        assert_eq!(keys("ctrl-A,ctrl-[,q").to_string(), "ctrl-a,ctrl-[,q");
        for bad in ["", "ctrl-p,", "ctrl-", "ctrl-1", "ctrl-pq", "abc", " ", "é"] {
            let err = bad.parse::<DetachKeys>().expect_err(bad).to_string();
            assert!(err.contains("ctrl-p,ctrl-q"), "{bad}: {err}");
        }
    }

    fn scan_all(scanner: &mut DetachScanner, reads: &[&[u8]]) -> Scanned {
        let mut all = Scanned::default();
        for read in reads {
            let scanned = scanner.scan(read);
            all.forward.extend(scanned.forward);
            if scanned.detached {
                all.detached = true;
                break;
            }
        }
        all
    }

    #[test]
    fn the_sequence_is_found_across_reads_and_never_passed_on() {
        let mut scanner = DetachScanner::new(DetachKeys::default());
        let scanned = scan_all(&mut scanner, &[b"ls\r\x10", b"\x11echo"]);
        assert_eq!(scanned.forward, b"ls\r");
        assert!(scanned.detached);

        let mut scanner = DetachScanner::new(DetachKeys::default());
        let scanned = scanner.scan(b"a\x10b\x10\x10\x11");
        assert_eq!(
            scanned.forward, b"a\x10b\x10",
            "held bytes that are not the sequence go out in order"
        );
        assert!(scanned.detached);

        let mut scanner = DetachScanner::new(DetachKeys::default());
        let scanned = scanner.scan(b"\x03\x04\x10");
        assert_eq!(scanned.forward, b"\x03\x04", "ctrl-c and ctrl-d pass");
        assert!(!scanned.detached);
        assert_eq!(scanner.scan(b"x").forward, b"\x10x");
    }

    #[test]
    fn a_sequence_that_overlaps_itself_is_still_found() {
        let mut scanner = DetachScanner::new(keys("a,a,b"));
        let scanned = scanner.scan(b"xaaab");
        assert_eq!(scanned.forward, b"xa");
        assert!(scanned.detached);
        let mut scanner = DetachScanner::new(keys("ctrl-x"));
        assert!(scanner.scan(b"\x18").detached);
    }
}
