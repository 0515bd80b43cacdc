//! Image references as Docker writes them: `[registry[:port]/]path[:tag][@digest]`.
//!
//! A reference goes onto engine requests and, for Apple `container`, onto a command
//! line, so it is checked against the grammar before it goes anywhere: a value such
//! as `--mount=type=bind,...` or one holding whitespace or control characters is
//! never a reference.

/// The longest repository name (registry and path) Docker accepts.
pub(crate) const MAX_NAME_LEN: usize = 255;

/// The longest tag Docker accepts.
pub(crate) const MAX_TAG_LEN: usize = 128;

/// Checks `reference` against Docker's reference grammar; says what is wrong.
pub fn check(reference: &str) -> Result<(), &'static str> {
    if reference.is_empty() {
        return Err("it is empty");
    }
    if reference.starts_with('-') {
        return Err("it starts with '-', so a command line would read it as an option");
    }
    if reference
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("it contains whitespace or control characters");
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (reference, None),
    };
    if let Some(digest) = digest {
        check_digest(digest)?;
    }
    // A ':' after the last '/' starts the tag; one before it is a registry port.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    check_name(name)
}

/// Checks a tag: a word character, then up to 127 word characters, '.' or '-'.
pub(crate) fn check_tag(tag: &str) -> Result<(), &'static str> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    match chars.next() {
        None => Err("the tag after ':' is empty"),
        Some(first) if !word(first) => Err("a tag must start with a letter, digit or '_'"),
        Some(_) if tag.len() > MAX_TAG_LEN => Err("the tag is longer than 128 characters"),
        Some(_) if !chars.all(|c| word(c) || c == '.' || c == '-') => {
            Err("a tag may hold only letters, digits, '_', '.' and '-'")
        }
        Some(_) => Ok(()),
    }
}

/// Checks a repository name with its optional registry.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("the repository name is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return Err("the repository name is longer than 255 characters");
    }
    let mut components = name.split('/').peekable();
    let first = components.next().unwrap_or_default();
    let has_more = components.peek().is_some();
    let is_registry = has_more
        && (first.contains(['.', ':'])
            || first == "localhost"
            || first.chars().any(|c| c.is_ascii_uppercase()));
    if is_registry {
        check_registry(first)?;
    } else {
        check_path_component(first)?;
    }
    components.try_for_each(check_path_component)
}

/// `host[:port]`, where host is a domain name, an IPv4 address or `[IPv6]`.
fn check_registry(registry: &str) -> Result<(), &'static str> {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or("the registry's IPv6 address has no closing ']'")?;
        if inside.is_empty() || !inside.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err("the registry's IPv6 address is malformed");
        }
        match after {
            "" => (None, None),
            p => (
                None,
                Some(p.strip_prefix(':').ok_or("junk after the IPv6 address")?),
            ),
        }
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(registry), None),
        }
    };
    if let Some(host) = host {
        let ok_label = |label: &str| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if !host.split('.').all(ok_label) {
            return Err("the registry is not a host name");
        }
    }
    if let Some(port) = port
        && (port.is_empty() || port.len() > 5 || !port.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("the registry's port is not a number");
    }
    Ok(())
}

/// Lowercase letters and digits, joined by '.', '_', '__' or runs of '-'.
fn check_path_component(component: &str) -> Result<(), &'static str> {
    const BAD: &str = "a repository name holds lowercase letters and digits, separated by '/', '.', '_', '__' or '-'";
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes: Vec<char> = component.chars().collect();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return Err("the repository name has an empty part between '/'");
    };
    if !alnum(first) || !alnum(last) {
        return Err(BAD);
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator: String = bytes[start..i].iter().collect();
        let ok =
            matches!(separator.as_str(), "." | "_" | "__") || separator.chars().all(|c| c == '-');
        if !ok {
            return Err(BAD);
        }
    }
    Ok(())
}

/// `algorithm:hex`, such as `sha256:` and 64 hex digits.
fn check_digest(digest: &str) -> Result<(), &'static str> {
    const BAD: &str = "the digest after '@' is not algorithm:hex, such as sha256:<64 hex digits>";
    let (algorithm, hex) = digest.split_once(':').ok_or(BAD)?;
    let algorithm_ok = !algorithm.is_empty()
        && algorithm
            .split(['+', '.', '_', '-'])
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
    if !algorithm_ok || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(BAD);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_what_docker_accepts() {
        for ok in [
            "busybox",
            "debian:bookworm-slim",
            "berth-test/busybox",
            "berth-local/my_box:latest",
            "ghcr.io/owner/repo:v1.2.3",
            "localhost:5000/x",
            "localhost/x",
            "registry.example.com:443/a/b/c:tag_1",
            "[::1]:5000/x",
            "a__b/c--d/e.f",
            "x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "x:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_options_whitespace_and_bad_syntax() {
        for bad in [
            "",
            "--mount=type=bind,source=/,target=/x",
            "-it",
            "busy box",
            "busybox\n",
            "busybox\0",
            "Busybox",
            "café",
            "x:",
            "x:-tag",
            "x::y",
            "/x",
            "x/",
            "x//y",
            "x@sha256:abc",
            "x@",
            "a...b",
            "-",
            ":tag",
            "x:tag:more",
        ] {
            assert!(check(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(check(&"a".repeat(256)).is_err());
        assert!(check(&format!("x:{}", "t".repeat(129))).is_err());
    }
}
