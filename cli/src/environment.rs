//! `-e` and `--env-file` values of `berth run` and `berth exec`: `K=V`, or `K`
//! alone for berth's own value of K (which only `exec` takes).

use std::path::Path;

use runtime_core::{Error, is_env_name};

/// One `-e` value or env-file line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The variable's name, checked.
    pub name: String,
    /// Its value; `None` for a bare `K`.
    pub value: Option<String>,
}

impl Item {
    /// `K=V` or `K`; a name that is not a variable name is a usage error.
    pub fn parse(item: &str) -> Result<Self, Error> {
        let (name, value) = match item.split_once('=') {
            Some((k, v)) => (k, Some(v.to_owned())),
            None => (item, None),
        };
        if !is_env_name(name) {
            return Err(crate::usage(format!(
                "-e {name}: not a valid environment variable name"
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            value,
        })
    }

    /// The pair to send: a bare `K` takes its value from `lookup`, and sends
    /// nothing when K is unset there (as `docker exec -e K` does).
    pub fn resolve(self, lookup: impl Fn(&str) -> Option<String>) -> Option<(String, String)> {
        match self.value {
            Some(value) => Some((self.name, value)),
            None => lookup(&self.name).map(|value| (self.name, value)),
        }
    }
}

/// The items of an env file: K=V lines (or K); blank lines and lines starting with
/// # are skipped.
pub fn read_file(path: &Path) -> Result<Vec<Item>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        operation: "read the env file",
        path: path.to_owned(),
        source,
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(Item::parse(line).map_err(|_| {
            crate::usage(format!("{}:{}: expected NAME=value", path.display(), n + 1))
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::Item;

    fn lookup(name: &str) -> Option<String> {
        (name == "SET").then(|| "from berth".to_owned())
    }

    fn resolved(item: &str) -> Option<Option<(String, String)>> {
        Item::parse(item).ok().map(|i| i.resolve(lookup))
    }

    #[test]
    fn a_bare_name_passes_berths_value_or_nothing() {
        assert_eq!(
            resolved("SET"),
            Some(Some(("SET".to_owned(), "from berth".to_owned())))
        );
        assert_eq!(resolved("UNSET"), Some(None));
        assert_eq!(
            resolved("UNSET="),
            Some(Some(("UNSET".to_owned(), String::new())))
        );
        assert_eq!(
            resolved("A=b=c"),
            Some(Some(("A".to_owned(), "b=c".to_owned())))
        );
        assert!(Item::parse("1BAD").is_err());
    }

    #[test]
    fn an_env_file_skips_comments_and_names_its_bad_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("env");
        std::fs::write(&path, "# comment\n\nA=1\n  B\n").expect("write");
        let items = super::read_file(&path).expect("read");
        let names: Vec<(&str, Option<&str>)> = items
            .iter()
            .map(|i| (i.name.as_str(), i.value.as_deref()))
            .collect();
        assert_eq!(names, [("A", Some("1")), ("B", None)]);
        std::fs::write(&path, "A=1\n2=x\n").expect("write");
        let err = super::read_file(&path).expect_err("bad line");
        assert!(
            err.to_string().ends_with("env:2: expected NAME=value"),
            "{err}"
        );
    }
}
