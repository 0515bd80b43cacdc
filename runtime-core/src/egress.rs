//! The egress allowlist: rules parsed from `[network] allow`, static name entries
//! from `[network] hosts`, the addresses the proxy never connects to, the text a
//! denial shows the agent, and the audit record of each decision.
//!
//! All of it is pure. The proxy that applies it (the `proxy` module, built with
//! the `proxy` feature) runs in a sidecar container of the run, from the static
//! `berth-helper` binary.
//!
//! ```
//! use runtime_core::egress::{Host, Rule};
//! let rule: Rule = "*.example.net".parse().unwrap();
//! assert!(rule.matches(&Host::parse("api.example.net").unwrap(), 443));
//! assert!(!rule.matches(&Host::parse("example.net").unwrap(), 443));
//! assert_eq!(rule.to_string(), "*.example.net:443");
//! ```

#[cfg(feature = "proxy")]
pub mod intercept;
#[cfg(feature = "proxy")]
pub mod proxy;
mod tls;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use tls::{ClientHello, client_hello};

/// The port a rule without one allows.
pub const DEFAULT_PORT: u16 = 443;

/// The port the proxy listens on inside its sidecar.
pub const PROXY_PORT: u16 = 3128;

/// A host as a request names it: a lowercase DNS name without a trailing dot, or an
/// IP address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    /// A DNS name.
    Name(String),
    /// An IP address.
    Ip(IpAddr),
}

impl Host {
    /// Parses a host: an IP address (IPv6 with or without brackets) or a DNS name
    /// of letters, digits, `-` and `_` in dot-separated labels of 1 to 63
    /// characters, at most 253 in all. Names are lowercased; a trailing dot goes.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
        if name.is_empty() {
            return Err("the host is empty");
        }
        if name.len() > 253 {
            return Err("the host is longer than 253 characters");
        }
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err("each dot-separated part of a host name has 1 to 63 characters");
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err("the host has characters a host name cannot have");
            }
        }
        Ok(Self::Name(name))
    }

    /// The IP address, for a host that is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Self::Ip(ip) => Some(*ip),
            Self::Name(_) => None,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Self::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
        }
    }
}

/// What a rule's host part matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Pattern {
    /// Exactly this host.
    Exact(Host),
    /// Any name ending in `.` + this suffix (not the suffix itself).
    Subdomains(String),
}

/// One `allow` entry: a host (or `*.` and a domain, for its subdomains) and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    pattern: Pattern,
    port: u16,
}

impl Rule {
    /// Whether a request for `host` on `port` matches this rule.
    pub fn matches(&self, host: &Host, port: u16) -> bool {
        if port != self.port {
            return false;
        }
        match (&self.pattern, host) {
            (Pattern::Exact(want), have) => want == have,
            (Pattern::Subdomains(suffix), Host::Name(name)) => name
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| !head.is_empty()),
            (Pattern::Subdomains(_), Host::Ip(_)) => false,
        }
    }

    /// The rule's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The IP address the rule names, for a rule that names one.
    pub fn ip(&self) -> Option<IpAddr> {
        match &self.pattern {
            Pattern::Exact(host) => host.ip(),
            Pattern::Subdomains(_) => None,
        }
    }
}

impl FromStr for Rule {
    type Err = &'static str;

    /// `host[:port]`, `[v6]:port`, or `*.domain[:port]`; the port defaults to 443.
    fn from_str(entry: &str) -> Result<Self, Self::Err> {
        if entry.contains('/') {
            return Err("write a host, not a URL");
        }
        let (host, port) = match entry.rsplit_once(':') {
            // A bare IPv6 address has colons but no port.
            Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, Some(p)),
            _ => (entry, None),
        };
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err("the port must be a number from 1 to 65535"),
                Ok(p) => p,
            },
        };
        let pattern = if let Some(domain) = host.strip_prefix("*.") {
            match Host::parse(domain)? {
                Host::Ip(_) => return Err("a wildcard names a domain, not an IP address"),
                Host::Name(name) if !name.contains('.') => {
                    return Err(
                        "a wildcard needs a domain of at least two labels, such as *.example.com",
                    );
                }
                Host::Name(name) => Pattern::Subdomains(format!(".{name}")),
            }
        } else if host.contains('*') {
            return Err("a wildcard is allowed only as a leading `*.`");
        } else {
            Pattern::Exact(Host::parse(host)?)
        };
        Ok(Self { pattern, port })
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pattern {
            Pattern::Exact(host) => write!(f, "{host}:{}", self.port),
            Pattern::Subdomains(suffix) => write!(f, "*{suffix}:{}", self.port),
        }
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a run's egress proxy lets through: its rules, its static name entries,
/// and the secrets it adds to requests for their hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// `[network] allow`, in the config's order, then the hosts of bound secrets.
    pub rules: Vec<Rule>,
    /// `[network] hosts`: names the proxy resolves to these addresses, as the
    /// config gives them (lowercase names).
    #[serde(default)]
    pub hosts: BTreeMap<String, IpAddr>,
    /// Under `policy = "open"` with bound secrets: every host is allowed, and only
    /// the secrets are held to their hosts.
    #[serde(default)]
    pub allow_all: bool,
    /// Secrets bound to hosts (names and hosts; never values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<Binding>,
}

/// A secret bound to hosts: `[secrets.NAME] hosts = [...]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The environment variable's name.
    pub name: String,
    /// The hosts whose requests get the value.
    pub hosts: Vec<Rule>,
}

/// The rule text an `allow_all` policy records for the hosts it lets through.
pub const OPEN_RULE: &str = "(policy open)";

impl Policy {
    /// The first rule that allows `host` on `port`.
    pub fn rule_for(&self, host: &Host, port: u16) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matches(host, port))
    }

    /// What allows `host` on `port`: its rule's text, or [`OPEN_RULE`] under an
    /// open policy; `None` when nothing does.
    pub fn allows(&self, host: &Host, port: u16) -> Option<String> {
        self.rule_for(host, port)
            .map(ToString::to_string)
            .or_else(|| self.allow_all.then(|| OPEN_RULE.to_owned()))
    }

    /// The names of the secrets bound to `host` on `port`.
    pub fn bound_to(&self, host: &Host, port: u16) -> Vec<&str> {
        self.credentials
            .iter()
            .filter(|b| b.hosts.iter().any(|r| r.matches(host, port)))
            .map(|b| b.name.as_str())
            .collect()
    }

    /// The static entry for a name, if the config gives one.
    pub fn static_address(&self, host: &Host) -> Option<IpAddr> {
        match host {
            Host::Name(name) => self.hosts.get(name).copied(),
            Host::Ip(_) => None,
        }
    }
}

/// Why the proxy never connects to an address, unless the config itself names it
/// (an IP in `allow`, or a `hosts` entry); `None` when it may.
pub fn forbidden(address: IpAddr, gateways: &[IpAddr]) -> Option<&'static str> {
    let address = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    if gateways.contains(&address) {
        return Some("a gateway of the engine's bridge networks, which is the host itself");
    }
    match address {
        IpAddr::V4(ip) => forbidden_v4(ip),
        IpAddr::V6(ip) => forbidden_v6(ip),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    // Alibaba Cloud's metadata service sits outside link-local.
    if ip == Ipv4Addr::new(100, 100, 100, 200) {
        return Some("a cloud metadata address");
    }
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_link_local() {
        Some("a link-local address, where cloud metadata services answer")
    } else if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
        Some("not a host address")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    // AWS's metadata service over IPv6.
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Some("a cloud metadata address");
    }
    // An IPv4 address carried inside IPv6 (NAT64, IPv4-compatible, 6to4) is
    // judged as that IPv4 address.
    let embedded = match s {
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] | [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 => {
            Some((hi, lo))
        }
        [0x2002, hi, lo, ..] => Some((hi, lo)),
        _ => None,
    };
    if let Some((hi, lo)) = embedded {
        let v4 = Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
        if let Some(why) = forbidden_v4(v4) {
            return Some(why);
        }
    }
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unicast_link_local() {
        Some("a link-local address")
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some("not a host address")
    } else {
        None
    }
}

/// Why the proxy refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// No rule allows the host and port.
    NotAllowed,
    /// Every address the name resolves to is one the proxy never connects to.
    ForbiddenAddress {
        /// The address.
        address: IpAddr,
        /// Why it is forbidden.
        why: &'static str,
    },
    /// A TLS ClientHello after CONNECT names another host (domain fronting).
    SniMismatch {
        /// The name the ClientHello carries.
        sni: String,
    },
    /// A plain http request whose `Host` header names another host.
    HostMismatch {
        /// The header's value.
        header: String,
    },
}

impl Denial {
    /// The one or two sentences the agent reads, in the 403's body and the audit log:
    /// what was blocked, that another route will not work, and which key allows it.
    pub fn message(&self, host: &Host, port: u16) -> String {
        let target = format!("{host}:{port}");
        let why = match self {
            Self::NotAllowed => "it is not in the sandbox's allowlist".to_owned(),
            Self::ForbiddenAddress { address, why } => {
                format!("it resolves to {address}, {why}")
            }
            Self::SniMismatch { sni } => {
                format!("the TLS handshake that followed named another host, {sni}")
            }
            Self::HostMismatch { header } => {
                format!("the request's Host header named another host, {header}")
            }
        };
        let fix = match self {
            Self::NotAllowed | Self::SniMismatch { .. } | Self::HostMismatch { .. } => {
                format!("add \"{target}\" to `allow` under [network] in berth.toml")
            }
            Self::ForbiddenAddress { address, .. } => format!(
                "add \"{address}\" to `allow`, or map the name with `hosts`, under [network] in berth.toml"
            ),
        };
        format!(
            "The berth egress policy of this sandbox blocked {target}: {why}. \
             Retrying through another route or address will not work; to allow it, {fix}."
        )
    }

    /// A short name for the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotAllowed => "not-allowed",
            Self::ForbiddenAddress { .. } => "forbidden-address",
            Self::SniMismatch { .. } => "sni-mismatch",
            Self::HostMismatch { .. } => "host-mismatch",
        }
    }
}

/// Allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Connected (or tried to: see the record's `error`).
    Allowed,
    /// Refused by the policy.
    Denied,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
        })
    }
}

/// One line of a run's audit log: one decision of its proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditRecord {
    /// When the request arrived, RFC 3339 in UTC.
    pub time: String,
    /// The client's address inside the sandbox network.
    pub client: String,
    /// `CONNECT`, or the plain http method.
    pub method: String,
    /// The host asked for.
    pub host: String,
    /// The port asked for.
    pub port: u16,
    /// The TLS server name the client sent after CONNECT, if any.
    #[serde(default)]
    pub sni: Option<String>,
    /// Allowed or denied.
    pub decision: Verdict,
    /// The `allow` entry that matched.
    #[serde(default)]
    pub rule: Option<String>,
    /// For a denial, its kind (`not-allowed`, `forbidden-address`, `sni-mismatch`,
    /// `host-mismatch`).
    #[serde(default)]
    pub reason: Option<String>,
    /// For a denial, what the agent was told.
    #[serde(default)]
    pub message: Option<String>,
    /// The address connected to.
    #[serde(default)]
    pub address: Option<String>,
    /// An allowed request that still failed: the name did not resolve, or the
    /// connection was refused.
    #[serde(default)]
    pub error: Option<String>,
    /// The bound secrets whose placeholders the proxy replaced with their values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<String>,
    /// Something to look at, such as a placeholder sent to a host it is not bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// Bytes from the sandbox to the upstream.
    pub bytes_up: u64,
    /// Bytes from the upstream to the sandbox.
    pub bytes_down: u64,
}

/// A secret bound to hosts, as the proxy holds it: the value it adds, the
/// placeholder the sandbox has instead, and the hosts. Its `Debug` hides the value;
/// it is serialized only to hand it to the proxy over its standard input.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// The environment variable's name.
    pub name: String,
    /// What the sandbox's variable holds instead of the value.
    pub placeholder: String,
    /// The value.
    pub value: String,
    /// The hosts whose requests get the value.
    pub hosts: Vec<Rule>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("name", &self.name)
            .field("placeholder", &self.placeholder)
            .field("value", &"<hidden>")
            .field("hosts", &self.hosts)
            .finish()
    }
}

impl Credential {
    /// A fresh placeholder: recognisable, random per run, never a value.
    pub fn placeholder() -> String {
        let a = crate::RunId::random();
        let b = crate::RunId::random();
        format!("berth-placeholder-{a}{b}")
    }
}

/// What the proxy needs to know: the policy, and the engine's bridge gateways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxySettings {
    /// The allowlist.
    pub policy: Policy,
    /// Gateway addresses of the engine's bridge networks (the host), never
    /// connected to unless the config names them.
    pub gateways: Vec<IpAddr>,
    /// Extra certificate authorities (PEM) to trust for upstreams, besides the
    /// host's store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_ca: Option<String>,
    /// Whether the bound secrets' values follow on the proxy's standard input.
    #[serde(default)]
    pub secrets_on_stdin: bool,
}

/// Where the proxy writes the run's CA certificate (`ca.pem`) and a bundle of it
/// with the host's store (`bundle.pem`); the sandbox mounts the same volume
/// read-only at [`CA_MOUNT`].
pub const CA_DIR: &str = "/ca";

/// Where the sandbox finds the run's CA files.
pub const CA_MOUNT: &str = "/etc/berth/ca";

/// The variables naming the run's CA inside the sandbox, so common tools trust it
/// without flags: the bundle for OpenSSL, Python, curl and git; the CA alone for
/// Node, which adds it to its own roots.
pub fn ca_environment() -> Vec<(String, String)> {
    let bundle = format!("{CA_MOUNT}/bundle.pem");
    let mut out: Vec<(String, String)> = [
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "GIT_SSL_CAINFO",
    ]
    .into_iter()
    .map(|n| (n.to_owned(), bundle.clone()))
    .collect();
    out.push((
        "NODE_EXTRA_CA_CERTS".to_owned(),
        format!("{CA_MOUNT}/ca.pem"),
    ));
    out
}

/// The environment variable that carries [`ProxySettings`] (as JSON) to the proxy.
pub const SETTINGS_VAR: &str = "BERTH_EGRESS_SETTINGS";

/// The proxy variables a sandbox gets for a proxy at `address`: upper and lower case
/// `HTTP_PROXY` and `HTTPS_PROXY`, and `NO_PROXY` for the sandbox itself only.
pub fn proxy_environment(address: IpAddr) -> Vec<(String, String)> {
    let url = format!("http://{}:{PROXY_PORT}", Host::Ip(address));
    let mut out = Vec::new();
    for name in ["HTTP_PROXY", "HTTPS_PROXY"] {
        out.push((name.to_owned(), url.clone()));
        out.push((name.to_ascii_lowercase(), url.clone()));
    }
    let local = "localhost,127.0.0.1,::1".to_owned();
    out.push(("NO_PROXY".to_owned(), local.clone()));
    out.push(("no_proxy".to_owned(), local));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(text: &str) -> Host {
        Host::parse(text).unwrap()
    }

    #[test]
    fn rules_parse_to_their_canonical_form() {
        for (entry, canonical) in [
            ("api.example.com:443", "api.example.com:443"),
            ("Example.ORG", "example.org:443"),
            ("*.example.net:8443", "*.example.net:8443"),
            ("10.1.2.3:80", "10.1.2.3:80"),
            ("[::1]:8080", "[::1]:8080"),
            ("::1", "[::1]:443"),
            ("host.:80", "host:80"),
        ] {
            let rule: Rule = entry.parse().unwrap();
            assert_eq!(rule.to_string(), canonical, "{entry}");
        }
    }

    #[test]
    fn bad_rules_say_why() {
        for (entry, why) in [
            ("https://example.com", "write a host, not a URL"),
            ("example.com:0", "the port must be a number from 1 to 65535"),
            (
                "example.com:https",
                "the port must be a number from 1 to 65535",
            ),
            (
                "*.com",
                "a wildcard needs a domain of at least two labels, such as *.example.com",
            ),
            (
                "a.*.example.com",
                "a wildcard is allowed only as a leading `*.`",
            ),
            ("*.10.0.0.1", "a wildcard names a domain, not an IP address"),
            (
                "exa mple.com",
                "the host has characters a host name cannot have",
            ),
            (
                "a..b",
                "each dot-separated part of a host name has 1 to 63 characters",
            ),
            ("", "the host is empty"),
        ] {
            assert_eq!(entry.parse::<Rule>().unwrap_err(), why, "{entry}");
        }
    }

    #[test]
    fn a_wildcard_matches_subdomains_and_not_the_parent() {
        let rule: Rule = "*.example.net".parse().unwrap();
        assert!(rule.matches(&host("a.example.net"), 443));
        assert!(rule.matches(&host("a.b.example.net"), 443));
        assert!(!rule.matches(&host("example.net"), 443));
        assert!(!rule.matches(&host("badexample.net"), 443));
        assert!(!rule.matches(&host("a.example.net"), 80));
        assert!(!rule.matches(&host("10.0.0.1"), 443));
    }

    #[test]
    fn exact_rules_match_case_and_trailing_dot_insensitively() {
        let rule: Rule = "api.example.com".parse().unwrap();
        assert!(rule.matches(&host("API.Example.com."), 443));
        assert!(!rule.matches(&host("api.example.com.evil"), 443));
        let ip: Rule = "[::1]:80".parse().unwrap();
        assert!(ip.matches(&host("::1"), 80));
        assert_eq!(ip.ip(), Some("::1".parse().unwrap()));
    }

    #[test]
    fn loopback_link_local_and_gateways_are_forbidden() {
        let gateway: IpAddr = "172.17.0.1".parse().unwrap();
        for (address, forbidden_) in [
            ("127.0.0.1", true),
            ("169.254.169.254", true),
            ("::ffff:169.254.169.254", true),
            ("::1", true),
            ("fe80::1", true),
            ("0.0.0.0", true),
            ("172.17.0.1", true),
            ("::ffff:172.17.0.1", true),
            ("172.17.0.2", false),
            ("10.0.0.8", false),
            ("2001:db8::1", false),
            ("100.100.100.200", true),
            ("fd00:ec2::254", true),
            ("64:ff9b::a9fe:a9fe", true),
            ("2002:7f00:1::", true),
            ("::7f00:1", true),
            ("2002:0a00:0001::", false),
        ] {
            let ip: IpAddr = address.parse().unwrap();
            assert_eq!(forbidden(ip, &[gateway]).is_some(), forbidden_, "{address}");
        }
    }

    #[test]
    fn a_denial_names_the_target_and_the_key_that_allows_it() {
        let text = Denial::NotAllowed.message(&host("evil.example"), 443);
        assert_eq!(
            text,
            "The berth egress policy of this sandbox blocked evil.example:443: it is not in \
             the sandbox's allowlist. Retrying through another route or address will not \
             work; to allow it, add \"evil.example:443\" to `allow` under [network] in berth.toml."
        );
        let metadata = Denial::ForbiddenAddress {
            address: "169.254.169.254".parse().unwrap(),
            why: "a link-local address, where cloud metadata services answer",
        };
        assert!(
            metadata
                .message(&host("meta.example"), 80)
                .contains("add \"169.254.169.254\" to `allow`, or map the name with `hosts`")
        );
    }

    #[test]
    fn settings_round_trip_as_json() {
        let settings = ProxySettings {
            policy: Policy {
                rules: vec!["*.example.net:443".parse().unwrap()],
                hosts: BTreeMap::from([("up.test".to_owned(), "10.0.0.9".parse().unwrap())]),
                ..Default::default()
            },
            gateways: vec!["172.17.0.1".parse().unwrap()],
            upstream_ca: None,
            secrets_on_stdin: false,
        };
        let json = serde_json::to_string(&settings).unwrap();
        assert_eq!(
            serde_json::from_str::<ProxySettings>(&json).unwrap(),
            settings
        );
        assert!(
            serde_json::from_str::<ProxySettings>(
                r#"{"policy":{"rules":["*.com"]},"gateways":[]}"#
            )
            .is_err()
        );
    }

    #[test]
    fn the_sandbox_gets_both_spellings_of_the_proxy_variables() {
        let env = proxy_environment("172.30.0.2".parse().unwrap());
        assert!(env.contains(&(
            "https_proxy".to_owned(),
            "http://172.30.0.2:3128".to_owned()
        )));
        assert!(env.contains(&("HTTP_PROXY".to_owned(), "http://172.30.0.2:3128".to_owned())));
        assert_eq!(env.len(), 6);
    }
}
