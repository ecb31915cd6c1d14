//! The real binary as a separate process, and raw HTTP/1.1 to it (the crash and replica
//! tests: a request on its own connection, its reply only if it arrived whole).

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_campus-voip-server");

// --- raw HTTP/1.1 --------------------------------------------------------------------------

/// A request that got no whole reply. `sent`: the request may have reached the service (the
/// connection was open), so its write may or may not exist.
#[derive(Debug)]
pub struct Lost {
    pub sent: bool,
    pub why: String,
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One request on its own connection: the status and the JSON body, only if the whole reply
/// (as its Content-Length or chunked framing says) arrived.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &[u8],
) -> Result<(u16, Value), Lost> {
    let lost = |sent: bool, why: String| Lost { sent, why };
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| lost(false, format!("connect: {e}")))?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: server-test\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(a) = auth {
        head.push_str(&format!("Authorization: {a}\r\n"));
    }
    head.push_str("\r\n");
    let mut req = head.into_bytes();
    req.extend_from_slice(body);
    s.write_all(&req)
        .map_err(|e| lost(true, format!("write: {e}")))?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .map_err(|e| lost(true, format!("read: {e}")))?;
    let split =
        find(&out, b"\r\n\r\n").ok_or_else(|| lost(true, "no whole response head".into()))?;
    let head = String::from_utf8_lossy(&out[..split]).to_ascii_lowercase();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| lost(true, format!("bad status line in {head:?}")))?;
    let rest = &out[split + 4..];
    let header = |name: &str| {
        head.lines().find_map(|l| {
            l.strip_prefix(&format!("{name}:"))
                .map(|v| v.trim().to_owned())
        })
    };
    let body = if let Some(n) = header("content-length") {
        let n: usize = n
            .parse()
            .map_err(|_| lost(true, "bad content-length".into()))?;
        if rest.len() != n {
            return Err(lost(
                true,
                format!("body of {} bytes, {n} announced", rest.len()),
            ));
        }
        rest.to_vec()
    } else if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let eol = find(&rest[at..], b"\r\n").ok_or_else(|| lost(true, "cut chunk".into()))?;
            let size = std::str::from_utf8(&rest[at..at + eol])
                .ok()
                .and_then(|t| usize::from_str_radix(t.split(';').next()?.trim(), 16).ok())
                .ok_or_else(|| lost(true, "bad chunk size".into()))?;
            at += eol + 2;
            if size == 0 {
                break;
            }
            if rest.len() < at + size + 2 {
                return Err(lost(true, "cut chunk".into()));
            }
            body.extend_from_slice(&rest[at..at + size]);
            at += size + 2;
        }
        body
    } else {
        return Err(lost(true, "a reply without framing".into()));
    };
    let json = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{method} {path}: HTTP {status}, not JSON ({e}): {:?}",
            String::from_utf8_lossy(&body)
        )
    });
    Ok((status, json))
}

/// `POST /v1/<api>`: the reply (HTTP 200 asserted).
pub fn v1(addr: SocketAddr, api: &str, auth: &str, body: &Value) -> Result<Value, Lost> {
    let (status, v) = http(
        addr,
        "POST",
        &format!("/v1/{api}"),
        Some(auth),
        body.to_string().as_bytes(),
    )?;
    assert_eq!(status, 200, "/v1/{api} {body}: {v}");
    Ok(v)
}

/// `POST /wxa/business/<route>?access_token=…`.
pub fn wxa(addr: SocketAddr, route: &str, token: &str, body: &Value) -> Result<Value, Lost> {
    let (status, v) = http(
        addr,
        "POST",
        &format!("/wxa/business/{route}?access_token={token}"),
        None,
        body.to_string().as_bytes(),
    )?;
    assert_eq!(status, 200, "/wxa/business/{route} {body}: {v}");
    Ok(v)
}

pub fn result_ok(api: &str, v: &Value) -> Value {
    assert_eq!(v["errCode"], 0, "{api}: {v}");
    v["result"].clone()
}

pub fn err_code(v: &Value) -> u64 {
    v["errCode"]
        .as_u64()
        .unwrap_or_else(|| panic!("no errCode in {v}"))
}

/// The running service; killed (SIGKILL) when dropped, so a failing test leaves none behind.
pub struct Server {
    pub child: Child,
    pub addr: Option<SocketAddr>,
    pub app: Option<(String, String)>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The folder's database: its SQLite file, or on PostgreSQL (CAMPUS_VOIP_TEST_PG) the
/// database the folder names.
pub fn db_url(dir: &Path) -> String {
    super::pg_url(dir).unwrap_or_else(|| format!("sqlite:{}", dir.join("db.sqlite3").display()))
}

/// Starts the binary; with `wait`, returns once it prints its address (and the dev
/// credentials), else at once.
pub fn start(dir: &Path, db_url: &str, flags: &[&str], wait: bool) -> Server {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("stderr.log"))
        .unwrap();
    let mut child = Command::new(BIN)
        .args(["--dev", "--database", db_url, "--listen", "127.0.0.1:0"])
        .args(flags)
        .arg("serve")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("the server binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    // Reads stdout to its end (so the service never blocks on a full pipe).
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut server = Server {
        child,
        addr: None,
        app: None,
    };
    if !wait {
        return server;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut app_id, mut secret) = (None, None);
    let mut seen = Vec::new();
    while server.addr.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "the service did not print its address: {seen:?}\n{}",
                std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
            )
        });
        let field = |name: &str| line.split_once(name).map(|(_, v)| v.trim().to_owned());
        if let Some(v) = field("app id:") {
            app_id = Some(v);
        }
        if let Some(v) = field("app secret:") {
            secret = Some(v);
        }
        if let Some(rest) = line.split_once("listening on http://").map(|(_, r)| r) {
            let addr = rest.split_whitespace().next().unwrap();
            server.addr = Some(addr.parse().unwrap());
        }
        seen.push(line);
    }
    server.app = Some((
        app_id.expect("an app id line"),
        secret.expect("an app secret line"),
    ));
    server
}

impl Server {
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn access_token(&self) -> String {
        let (id, secret) = self.app.as_ref().unwrap();
        let (status, v) = http(
            self.addr.unwrap(),
            "GET",
            &format!("/cgi-bin/token?grant_type=client_credential&appid={id}&secret={secret}"),
            None,
            b"",
        )
        .unwrap();
        assert_eq!(status, 200, "{v}");
        v["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_owned()
    }
}
