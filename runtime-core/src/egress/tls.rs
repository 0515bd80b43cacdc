//! Just enough of TLS to read the server name from a ClientHello: the first record
//! a client sends after CONNECT. Pure; never panics on any input.

/// What the first bytes of a tunnel are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientHello {
    /// Not a TLS handshake record: some other protocol.
    NotTls,
    /// A handshake record that has not fully arrived yet.
    Incomplete,
    /// A ClientHello, with the server name it carries, if any.
    Complete {
        /// The `server_name` extension's host name, lowercased.
        sni: Option<String>,
    },
    /// A handshake record that is not a well-formed ClientHello.
    Malformed,
}

/// Reads the ClientHello at the start of `bytes`.
pub fn client_hello(bytes: &[u8]) -> ClientHello {
    const HANDSHAKE: u8 = 0x16;
    let Some(&first) = bytes.first() else {
        return ClientHello::Incomplete;
    };
    if first != HANDSHAKE {
        return ClientHello::NotTls;
    }
    if bytes.len() < 5 {
        return ClientHello::Incomplete;
    }
    let length = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
    let Some(record) = bytes.get(5..5 + length) else {
        return ClientHello::Incomplete;
    };
    match parse(record) {
        Some(sni) => ClientHello::Complete { sni },
        None => ClientHello::Malformed,
    }
}

/// A cursor over a byte slice whose reads fail (`None`) past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }

    /// A vector with a length prefix of `width` bytes.
    fn vector(&mut self, width: usize) -> Option<Reader<'a>> {
        let n = match width {
            1 => usize::from(self.u8()?),
            2 => self.u16()?,
            _ => self.u24()?,
        };
        self.take(n).map(Reader)
    }
}

/// The server name of a ClientHello handshake message (`Some(None)`: none sent);
/// `None` when malformed. A message split over several records is malformed here:
/// real clients send one record.
fn parse(record: &[u8]) -> Option<Option<String>> {
    const CLIENT_HELLO: u8 = 1;
    const SERVER_NAME: usize = 0;
    const HOST_NAME: u8 = 0;
    let mut r = Reader(record);
    if r.u8()? != CLIENT_HELLO {
        return None;
    }
    let mut hello = r.vector(3)?;
    hello.take(2 + 32)?; // version, random
    hello.vector(1)?; // session id
    hello.vector(2)?; // cipher suites
    hello.vector(1)?; // compression methods
    if hello.0.is_empty() {
        return Some(None);
    }
    let mut extensions = hello.vector(2)?;
    while !extensions.0.is_empty() {
        let kind = extensions.u16()?;
        let mut body = extensions.vector(2)?;
        if kind != SERVER_NAME {
            continue;
        }
        let mut names = body.vector(2)?;
        while !names.0.is_empty() {
            let name_type = names.u8()?;
            let name = names.vector(2)?;
            if name_type == HOST_NAME {
                let text = std::str::from_utf8(name.0).ok()?;
                return Some(Some(text.to_ascii_lowercase()));
            }
        }
        return Some(None);
    }
    Some(None)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ClientHello record naming `sni` (none when `None`), with one other
    /// extension before it, as clients send.
    pub(crate) fn hello(sni: Option<&str>) -> Vec<u8> {
        let mut extensions = Vec::new();
        // supported_versions: TLS 1.3
        extensions.extend([0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]);
        if let Some(name) = sni {
            let n = name.len();
            let list = n + 3;
            extensions.extend([0x00, 0x00]);
            extensions.extend(u16::try_from(list + 2).unwrap().to_be_bytes());
            extensions.extend(u16::try_from(list).unwrap().to_be_bytes());
            extensions.push(0);
            extensions.extend(u16::try_from(n).unwrap().to_be_bytes());
            extensions.extend(name.as_bytes());
        }
        let mut body = vec![0x03, 0x03];
        body.extend([7u8; 32]);
        body.push(0); // session id
        body.extend([0x00, 0x02, 0x13, 0x01]); // one cipher suite
        body.extend([0x01, 0x00]); // null compression
        body.extend(u16::try_from(extensions.len()).unwrap().to_be_bytes());
        body.extend(extensions);
        let mut handshake = vec![1];
        handshake.extend(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
        handshake.extend(body);
        let mut record = vec![0x16, 0x03, 0x01];
        record.extend(u16::try_from(handshake.len()).unwrap().to_be_bytes());
        record.extend(handshake);
        record
    }

    #[test]
    fn the_server_name_is_read() {
        assert_eq!(
            client_hello(&hello(Some("API.example.com"))),
            ClientHello::Complete {
                sni: Some("api.example.com".to_owned())
            }
        );
        assert_eq!(
            client_hello(&hello(None)),
            ClientHello::Complete { sni: None }
        );
    }

    #[test]
    fn partial_records_wait_for_more_and_other_protocols_are_told_apart() {
        let full = hello(Some("a.example"));
        for cut in 0..full.len() {
            assert_eq!(client_hello(&full[..cut]), ClientHello::Incomplete, "{cut}");
        }
        assert_eq!(client_hello(b"SSH-2.0-x\r\n"), ClientHello::NotTls);
    }

    #[test]
    fn no_input_makes_it_panic() {
        let full = hello(Some("a.example"));
        // Every byte of a real hello changed to every value: parsed or refused.
        for i in 5..full.len() {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut bytes = full.clone();
                bytes[i] = v;
                let _ = client_hello(&bytes);
            }
        }
        let mut wrong_kind = full;
        wrong_kind[5] = 2;
        assert_eq!(client_hello(&wrong_kind), ClientHello::Malformed);
    }
}
