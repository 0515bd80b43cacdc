//! A small copy of how Apple's CLI (swift-argument-parser) reads a command line,
//! for the options each subcommand really has:
//! - `--name value`, `--name=value`, `-n value`, `-nvalue` and packed short flags
//!   (`-it`) are accepted; an option may repeat;
//! - in most commands options and positionals mix freely, and an option the
//!   command does not have is `Error: Unknown option '--x'` with the usage, exit 64;
//! - in commands whose last argument captures everything for the process
//!   (`create`, `run`, `exec`), parsing stops at the first positional *or the first
//!   unrecognised option*, which becomes the first positional: the real CLI then
//!   takes `--bogus` for the image (or container id) and fails on that, exit 1;
//! - `--` before the first positional ends the options: what follows is positional
//!   (`create [opts] -- IMAGE ARGS...`, `exec [opts] -- ID CMD...`); after the first
//!   positional of a passthrough command it is captured like any argument.

use crate::Fail;

/// One option of a subcommand.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    /// Every spelling, dashes included (`-w`, `--workdir`, `--cwd`); the first is
    /// the key values are stored under.
    pub names: &'static [&'static str],
    /// Whether it takes a value.
    pub value: bool,
}

/// A flag (no value).
pub const fn flag(names: &'static [&'static str]) -> Opt {
    Opt {
        names,
        value: false,
    }
}

/// An option with a value.
pub const fn opt(names: &'static [&'static str]) -> Opt {
    Opt { names, value: true }
}

/// A subcommand's grammar.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// `container create`.
    pub command: &'static str,
    /// The usage line after the command, as the real CLI prints it.
    pub usage: &'static str,
    /// Its options (`--debug` is added to every command).
    pub opts: &'static [Opt],
    /// When set, everything from the first positional (or unrecognised option) on
    /// is positional.
    pub passthrough: bool,
}

/// What a command line said.
#[derive(Debug, Default)]
pub struct Parsed {
    values: Vec<(&'static str, Option<String>)>,
    /// Positional arguments, in order.
    pub positionals: Vec<String>,
}

impl Parsed {
    /// Whether a flag was given.
    pub fn flag(&self, key: &str) -> bool {
        self.values.iter().any(|(k, _)| *k == key)
    }

    /// The last value of an option.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Every value of a repeated option, in order.
    pub fn values(&self, key: &str) -> Vec<&str> {
        self.values
            .iter()
            .filter(|(k, _)| *k == key)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }

    /// Every option given, by key, in order.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.values.iter().map(|(k, _)| *k)
    }
}

const DEBUG: Opt = flag(&["--debug"]);

impl Spec {
    fn find(&self, name: &str) -> Option<Opt> {
        self.opts
            .iter()
            .chain(std::iter::once(&DEBUG))
            .find(|o| o.names.contains(&name))
            .copied()
    }

    /// A usage error as swift-argument-parser prints it (exit 64).
    pub fn usage_error(&self, message: &str) -> Fail {
        Fail {
            code: 64,
            text: format!(
                "Error: {message}\nUsage: {} {}\n  See '{} --help' for more information.",
                self.command, self.usage, self.command
            ),
        }
    }

    /// Parses `args` (everything after the subcommand's name).
    pub fn parse(&self, args: &[String]) -> Result<Parsed, Fail> {
        let mut parsed = Parsed::default();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            i += 1;
            if self.passthrough && !parsed.positionals.is_empty() {
                parsed.positionals.push(arg.clone());
                continue;
            }
            if arg == "--" {
                // The terminator: everything after it is positional, however it
                // looks; it is not a value itself (swift-argument-parser skips it
                // for a single-value argument such as the image or container id).
                parsed.positionals.extend(args[i..].iter().cloned());
                break;
            }
            if let Some(long) = arg.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (format!("--{n}"), Some(v.to_owned())),
                    None => (arg.clone(), None),
                };
                let Some(opt) = self.find(&name) else {
                    if self.passthrough {
                        parsed.positionals.push(arg.clone());
                        continue;
                    }
                    return Err(self.usage_error(&format!("Unknown option '{name}'")));
                };
                let value = if opt.value {
                    match inline {
                        Some(v) => Some(v),
                        None => {
                            let v = args.get(i).cloned().ok_or_else(|| {
                                self.usage_error(&format!("Missing value for '{name} <value>'"))
                            })?;
                            i += 1;
                            Some(v)
                        }
                    }
                } else if inline.is_some() {
                    return Err(
                        self.usage_error(&format!("The option '{name}' does not take a value"))
                    );
                } else {
                    None
                };
                parsed.values.push((opt.names[0], value));
                continue;
            }
            if arg.len() > 1 && arg.starts_with('-') {
                i = self.parse_short(arg, args, i, &mut parsed)?;
                continue;
            }
            parsed.positionals.push(arg.clone());
        }
        Ok(parsed)
    }

    /// `-x`, `-xvalue`, `-x value` and packs such as `-it`; returns the next index.
    fn parse_short(
        &self,
        arg: &str,
        args: &[String],
        mut i: usize,
        parsed: &mut Parsed,
    ) -> Result<usize, Fail> {
        let chars: Vec<char> = arg[1..].chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let name = format!("-{}", chars[j]);
            let Some(opt) = self.find(&name) else {
                if self.passthrough && j == 0 {
                    parsed.positionals.push(arg.to_owned());
                    return Ok(i);
                }
                return Err(self.usage_error(&format!("Unknown option '{name}'")));
            };
            if opt.value {
                let rest: String = chars[j + 1..].iter().collect();
                let value = if rest.is_empty() {
                    let v = args.get(i).cloned().ok_or_else(|| {
                        self.usage_error(&format!("Missing value for '{name} <value>'"))
                    })?;
                    i += 1;
                    v
                } else {
                    rest
                };
                parsed.values.push((opt.names[0], Some(value)));
                return Ok(i);
            }
            parsed.values.push((opt.names[0], None));
            j += 1;
        }
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::{Spec, flag, opt};

    const SPEC: Spec = Spec {
        command: "container logs",
        usage: "[--follow] [-n <n>] <container-id>",
        opts: &[flag(&["-f", "--follow"]), opt(&["-n"])],
        passthrough: false,
    };

    const PASS: Spec = Spec {
        command: "container exec",
        usage: "<container-id> <arguments> ...",
        opts: &[flag(&["-i", "--interactive"]), flag(&["-t", "--tty"])],
        passthrough: true,
    };

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn options_mix_with_positionals() {
        let parsed = SPEC
            .parse(&strings(&["x", "-f", "-n", "3"]))
            .ok()
            .unwrap_or_default();
        assert!(parsed.flag("-f"));
        assert_eq!(parsed.value("-n"), Some("3"));
        assert_eq!(parsed.positionals, ["x"]);
    }

    #[test]
    fn unknown_options_are_usage_errors() {
        let err = SPEC.parse(&strings(&["--tail", "3", "x"])).err();
        assert_eq!(err.as_ref().map(|e| e.code), Some(64));
        assert!(err.is_some_and(|e| e.text.starts_with("Error: Unknown option '--tail'")));
    }

    #[test]
    fn passthrough_captures_after_the_first_positional() {
        let parsed = PASS
            .parse(&strings(&["-it", "box", "sh", "-c", "--", "-i"]))
            .ok()
            .unwrap_or_default();
        assert!(parsed.flag("-i") && parsed.flag("-t"));
        assert_eq!(parsed.positionals, ["box", "sh", "-c", "--", "-i"]);
        let bogus = PASS
            .parse(&strings(&["--bogus", "box"]))
            .ok()
            .unwrap_or_default();
        assert_eq!(bogus.positionals, ["--bogus", "box"]);
        let terminated = PASS
            .parse(&strings(&["-i", "--", "--mount=x", "sh", "--", "-t"]))
            .ok()
            .unwrap_or_default();
        assert!(terminated.flag("-i") && !terminated.flag("-t"));
        assert_eq!(terminated.positionals, ["--mount=x", "sh", "--", "-t"]);
        let plain = SPEC
            .parse(&strings(&["-f", "--", "-n"]))
            .ok()
            .unwrap_or_default();
        assert_eq!(plain.positionals, ["-n"]);
    }
}
