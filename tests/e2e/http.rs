//! A minimal HTTP/1.1 client for attacking servers on loopback: every
//! request can come from its own 127.x.y.z source address (so anonymous
//! and failed-authentication buckets can be exercised deliberately), and
//! every status the server ever answers is recorded, so the suite can
//! prove that no request got a 5xx.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The answer to a HEAD request: headers only, by definition.
    pub head: bool,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Every (server, method, path, status) answered, for the "no 5xx" check.
pub static LOG: Mutex<Vec<(SocketAddr, String, String, u16)>> = Mutex::new(Vec::new());

static NEXT_SOURCE: AtomicU32 = AtomicU32::new(0);

/// A loopback address not used before in this test process.
pub fn fresh_source() -> Ipv4Addr {
    let n = NEXT_SOURCE.fetch_add(1, Ordering::SeqCst);
    Ipv4Addr::new(
        127,
        1 + (n / 62_500) as u8,
        ((n / 250) % 250) as u8,
        (n % 250 + 2) as u8,
    )
}

pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub source: Ipv4Addr,
}

impl<'a> Request<'a> {
    pub fn new(method: &'a str, path: &'a str) -> Self {
        Request {
            method,
            path,
            headers: Vec::new(),
            body: None,
            source: Ipv4Addr::LOCALHOST,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.body = Some(serde_json::to_vec(value).unwrap());
        self.header("content-type", "application/json")
    }

    pub fn raw_body(mut self, content_type: &str, bytes: Vec<u8>) -> Self {
        self.body = Some(bytes);
        self.header("content-type", content_type)
    }

    pub fn from(mut self, source: Ipv4Addr) -> Self {
        self.source = source;
        self
    }

    pub fn send(self, server: SocketAddr) -> Response {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        socket
            .bind(&SocketAddr::V4(SocketAddrV4::new(self.source, 0)).into())
            .expect("bind a loopback source address");
        socket
            .connect_timeout(&server.into(), Duration::from_secs(5))
            .expect("connect to the server");
        let mut stream: std::net::TcpStream = socket.into();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut head = format!(
            "{} {} HTTP/1.1\r\nhost: {server}\r\nconnection: close\r\n",
            self.method, self.path
        );
        for (n, v) in &self.headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        if let Some(body) = &self.body {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        if let Some(body) = &self.body {
            // The server may answer (413) and close before reading it all.
            let _ = stream.write_all(body);
        }
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let mut response = parse(&raw).unwrap_or_else(|| {
            panic!(
                "{} {}: unparsable response {:?}",
                self.method,
                self.path,
                String::from_utf8_lossy(&raw)
            )
        });
        response.head = self.method == "HEAD";
        LOG.lock().unwrap().push((
            server,
            self.method.to_string(),
            self.path.to_string(),
            response.status,
        ));
        response
    }
}

fn parse(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let end = rest.windows(2).position(|w| w == b"\r\n")?;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..end]).ok()?.trim(), 16).ok()?;
            if size == 0 {
                break;
            }
            out.extend_from_slice(rest.get(end + 2..end + 2 + size)?);
            rest = rest.get(end + 4 + size..)?;
        }
        body = out;
    }
    Some(Response {
        status,
        headers,
        body,
        head: false,
    })
}
