//! Outbound HTTP(S): how the platform calls Google's key set, FCM, Gemini,
//! Sentry and the OTLP collector. HTTP/1.1 over hyper, TLS by rustls (ring,
//! the system's roots, loaded on the first `https` call). An answer is read
//! whole, up to [`MAX_BODY`]; idle connections are kept per origin for
//! [`IDLE_FOR`] and reused.
//!
//! `https` calls go through the proxy `HTTPS_PROXY` names (a `CONNECT`
//! tunnel), unless `NO_PROXY` lists the host, as curl reads them.
//!
//! Small on purpose, since every function links it: a general client's URL
//! parser, redirects and connection pool machinery cost each binary about
//! 0.3 MiB (bench/RESULTS.md, "Under 6 MiB"). None of those calls redirects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// The largest answer read; a larger one is [`Error::TooLarge`].
pub const MAX_BODY: usize = 4 << 20;
/// How long an idle connection is kept for reuse: below the 60 s after which
/// common servers close theirs, so a kept one is rarely found closed.
pub const IDLE_FOR: Duration = Duration::from_secs(30);
/// A call's deadline unless [`RequestBuilder::timeout`] sets another.
pub const TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const IDLE_PER_ORIGIN: usize = 8;

/// Why a call got no answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request: {0}")]
    Request(String),
    #[error("connecting to {0} failed: {1}")]
    Connect(String, #[source] std::io::Error),
    #[error("TLS with {0} failed: {1}")]
    Tls(String, #[source] std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("the answer is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the answer is not the JSON expected: {0}")]
    Json(#[from] serde_json::Error),
}

/// A whole answer.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    /// The body as `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        Ok(serde_json::from_slice(&self.body)?)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value, if it is text.
    pub fn header(&self, name: impl http::header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Scheme, host and port: what a kept connection can serve.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Origin {
    tls: bool,
    host: String,
    port: u16,
}

impl Origin {
    fn of(uri: &Uri) -> Result<Self, Error> {
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(Error::Request(format!("{uri}: not an http(s) URL"))),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::Request(format!("{uri}: no host")))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(Self { tls, host, port })
    }
}

type Sender = SendRequest<Full<Bytes>>;

/// An HTTP client; [`client`] is the process's own.
pub struct Client {
    idle: Mutex<HashMap<Origin, Vec<(Sender, Instant)>>>,
    roots: Option<Arc<RootCertStore>>,
    tls: OnceLock<TlsConnector>,
    proxy: Option<Proxy>,
}

/// Where `https` calls are tunnelled, and the hosts that are not.
#[derive(Debug, Clone)]
struct Proxy {
    /// `host:port`.
    address: String,
    /// `Proxy-Authorization` for a proxy URL with credentials.
    authorization: Option<String>,
    /// `NO_PROXY`: host suffixes, or `*` for every host.
    bypass: Vec<String>,
}

impl Proxy {
    fn from_env() -> Option<Self> {
        let var = |names: [&str; 2]| names.iter().find_map(|n| std::env::var(n).ok());
        let url = var(["HTTPS_PROXY", "https_proxy"]).filter(|u| !u.trim().is_empty())?;
        let bypass = var(["NO_PROXY", "no_proxy"]).unwrap_or_default();
        Self::parse(&url, &bypass)
            .map_err(|e| tracing::warn!(error = %e, "HTTPS_PROXY ignored"))
            .ok()
    }

    fn parse(url: &str, no_proxy: &str) -> Result<Self, String> {
        let with_scheme = if url.contains("://") {
            url.to_owned()
        } else {
            format!("http://{url}")
        };
        let uri: Uri = with_scheme.parse().map_err(|e| format!("{url}: {e}"))?;
        let authority = uri.authority().ok_or_else(|| format!("{url}: no host"))?;
        let (credentials, host) = match authority.as_str().rsplit_once('@') {
            Some((credentials, host)) => (Some(credentials), host),
            None => (None, authority.as_str()),
        };
        let address = if authority.port().is_some() {
            host.to_owned()
        } else {
            format!("{host}:80")
        };
        let authorization = credentials.map(|c| {
            use base64::Engine;
            let decoded = percent_encoding::percent_decode_str(c).decode_utf8_lossy();
            let encoded = base64::engine::general_purpose::STANDARD.encode(decoded.as_bytes());
            format!("Basic {encoded}")
        });
        let bypass = no_proxy
            .split(',')
            .map(|h| h.trim().trim_start_matches('.').to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        Ok(Self {
            address,
            authorization,
            bypass,
        })
    }

    fn tunnels(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        !self.bypass.iter().any(|b| {
            b == "*"
                || host == *b
                || host
                    .strip_suffix(b.as_str())
                    .is_some_and(|h| h.ends_with('.'))
        })
    }
}

/// The process's client, for calls made on its Tokio runtime.
pub fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(Client::new)
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A client trusting the system's roots. Its connections belong to the
    /// runtime that opened them: a caller on another runtime (a background
    /// thread's) builds its own.
    pub fn new() -> Self {
        Self {
            idle: Mutex::default(),
            roots: None,
            tls: OnceLock::new(),
            proxy: Proxy::from_env(),
        }
    }

    /// This client with `https` calls tunnelled through the proxy at `url`
    /// (`http://[user:password@]host:port`), but for the hosts `no_proxy`
    /// lists; instead of `HTTPS_PROXY` and `NO_PROXY`.
    pub fn with_proxy(self, url: &str, no_proxy: &str) -> Result<Self, String> {
        Ok(Self {
            proxy: Some(Proxy::parse(url, no_proxy)?),
            ..self
        })
    }

    /// A client trusting only `roots` (tests, private collectors).
    pub fn with_roots(roots: RootCertStore) -> Self {
        Self {
            roots: Some(Arc::new(roots)),
            ..Self::new()
        }
    }

    pub fn get(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::GET, url)
    }

    pub fn post(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::POST, url)
    }

    pub fn request(&self, method: Method, url: &str) -> RequestBuilder<'_> {
        RequestBuilder {
            client: self,
            request: Request::builder().method(method).uri(url),
            body: Bytes::new(),
            timeout: TIMEOUT,
        }
    }

    /// Sends `request` and reads its answer, within `timeout` in all.
    pub async fn send(
        &self,
        request: Request<Bytes>,
        timeout: Duration,
    ) -> Result<Response, Error> {
        tokio::time::timeout(timeout, self.exchange(request))
            .await
            .map_err(|_| Error::Timeout(timeout))?
    }

    async fn exchange(&self, request: Request<Bytes>) -> Result<Response, Error> {
        let origin = Origin::of(request.uri())?;
        let (mut parts, body) = request.into_parts();
        let authority = parts
            .uri
            .authority()
            .map(http::uri::Authority::as_str)
            .unwrap_or_default();
        let host = HeaderValue::from_str(authority).map_err(|e| Error::Request(e.to_string()))?;
        parts.headers.entry(HOST).or_insert(host);
        // HTTP/1.1 sends the path alone; the origin is the connection's.
        parts.uri = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|e: http::uri::InvalidUri| Error::Request(e.to_string()))?;
        let rebuild = || {
            let mut r = Request::new(Full::new(body.clone()));
            *r.method_mut() = parts.method.clone();
            *r.uri_mut() = parts.uri.clone();
            *r.headers_mut() = parts.headers.clone();
            r
        };
        let (sender, answer) = match self.take_idle(&origin).await {
            Some(mut kept) => match kept.send_request(rebuild()).await {
                // The server closed the kept connection before taking the
                // request: it was never sent, so it is safe to send again.
                Err(e) if e.is_canceled() => self.send_fresh(&origin, rebuild()).await?,
                answer => (kept, answer?),
            },
            None => self.send_fresh(&origin, rebuild()).await?,
        };
        let (head, body) = answer.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| match e.downcast::<hyper::Error>() {
                Ok(e) => Error::Http(*e),
                Err(e) if e.is::<LengthLimitError>() => Error::TooLarge,
                Err(e) => Error::Request(e.to_string()),
            })?
            .to_bytes();
        let closing = head
            .headers
            .get(CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        if !closing && !sender.is_closed() {
            self.keep(origin, sender);
        }
        Ok(Response {
            status: head.status,
            headers: head.headers,
            body,
        })
    }

    async fn send_fresh(
        &self,
        origin: &Origin,
        request: Request<Full<Bytes>>,
    ) -> Result<(Sender, hyper::Response<hyper::body::Incoming>), Error> {
        let mut sender = self.connect(origin).await?;
        let answer = sender.send_request(request).await?;
        Ok((sender, answer))
    }

    /// A kept connection to `origin` that is still open and ready.
    async fn take_idle(&self, origin: &Origin) -> Option<Sender> {
        loop {
            let (mut sender, since) = {
                let mut idle = self
                    .idle
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                idle.get_mut(origin)?.pop()?
            };
            if since.elapsed() < IDLE_FOR && sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    fn keep(&self, origin: Origin, sender: Sender) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let kept = idle.entry(origin).or_default();
        kept.retain(|(s, since)| since.elapsed() < IDLE_FOR && !s.is_closed());
        if kept.len() < IDLE_PER_ORIGIN {
            kept.push((sender, Instant::now()));
        }
    }

    async fn connect(&self, origin: &Origin) -> Result<Sender, Error> {
        let address = format!("{}:{}", origin.host, origin.port);
        let proxy = self
            .proxy
            .as_ref()
            .filter(|p| origin.tls && p.tunnels(&origin.host));
        let dial = proxy.map_or(address.as_str(), |p| p.address.as_str());
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(dial))
            .await
            .map_err(|_| Error::Timeout(CONNECT_TIMEOUT))?
            .map_err(|e| Error::Connect(dial.to_owned(), e))?;
        let _ = tcp.set_nodelay(true);
        if !origin.tls {
            return handshake(tcp).await;
        }
        let tcp = match proxy {
            Some(p) => tunnel(tcp, p, &address)
                .await
                .map_err(|e| Error::Connect(format!("{address} through {}", p.address), e))?,
            None => tcp,
        };
        let name = rustls::pki_types::ServerName::try_from(origin.host.clone())
            .map_err(|e| Error::Request(format!("{}: {e}", origin.host)))?;
        let tls = self
            .tls()
            .connect(name, tcp)
            .await
            .map_err(|e| Error::Tls(address, e))?;
        handshake(tls).await
    }

    fn tls(&self) -> &TlsConnector {
        self.tls.get_or_init(|| {
            let roots = self.roots.clone().unwrap_or_else(system_roots);
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            TlsConnector::from(Arc::new(config))
        })
    }
}

/// Asks the proxy on `tcp` for a tunnel to `address` (`CONNECT`); the
/// stream then reaches `address`.
async fn tunnel(mut tcp: TcpStream, proxy: &Proxy, address: &str) -> std::io::Result<TcpStream> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut ask = format!("CONNECT {address} HTTP/1.1\r\nHost: {address}\r\n");
    if let Some(auth) = &proxy.authorization {
        ask.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    ask.push_str("\r\n");
    tcp.write_all(ask.as_bytes()).await?;
    // Byte by byte: what follows the answer's head is the tunnel's, not ours.
    let mut head = Vec::with_capacity(128);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 || tcp.read_u8().await.map(|b| head.push(b)).is_err() {
            return Err(std::io::Error::other("the proxy's answer ended early"));
        }
    }
    let status = head.split(|b| *b == b' ').nth(1).unwrap_or_default();
    if status != b"200" {
        let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
        return Err(std::io::Error::other(format!(
            "the proxy refused the tunnel: {}",
            String::from_utf8_lossy(line)
        )));
    }
    Ok(tcp)
}

async fn handshake<T>(io: T) -> Result<Sender, Error>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "outbound connection ended");
        }
    });
    Ok(sender)
}

/// The system's trusted roots (`SSL_CERT_FILE`/`SSL_CERT_DIR` first, as
/// OpenSSL reads them); what cannot be read is logged and skipped.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!(error = %e, "a system root certificate could not be read");
            }
            let mut roots = RootCertStore::empty();
            let (added, ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!(ignored, "no system root certificate: HTTPS calls will fail");
            }
            Arc::new(roots)
        })
        .clone()
}

/// A request being built; [`RequestBuilder::send`] sends it.
#[must_use = "a request does nothing until sent"]
pub struct RequestBuilder<'a> {
    client: &'a Client,
    request: http::request::Builder,
    body: Bytes,
    timeout: Duration,
}

impl RequestBuilder<'_> {
    pub fn header<V>(
        mut self,
        name: impl TryInto<HeaderName, Error: Into<http::Error>>,
        value: V,
    ) -> Self
    where
        V: TryInto<HeaderValue, Error: Into<http::Error>>,
    {
        self.request = self.request.header(name, value);
        self
    }

    pub fn bearer_auth(self, token: &str) -> Self {
        self.header(AUTHORIZATION, format!("Bearer {token}"))
    }

    /// `value` as a JSON body.
    pub fn json(self, value: &impl Serialize) -> Self {
        let body = serde_json::to_vec(value).expect("a JSON value serializes");
        self.body(body, "application/json")
    }

    /// `body`, sent as `content_type`.
    pub fn body(mut self, body: impl Into<Bytes>, content_type: &'static str) -> Self {
        self.body = body.into();
        self.header(CONTENT_TYPE, content_type)
    }

    /// The whole call's deadline (connecting, sending and reading).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub async fn send(self) -> Result<Response, Error> {
        let request = self
            .request
            .body(self.body)
            .map_err(|e| Error::Request(e.to_string()))?;
        self.client.send(request, self.timeout).await
    }
}

/// A thread running its own single-threaded runtime, for callers outside
/// any (Sentry's transport, the OTLP exporter's thread): they hand it
/// futures and wait on the answers. Started only when such a caller is
/// configured; it lives as long as the process.
#[derive(Debug, Clone)]
pub struct Background {
    handle: tokio::runtime::Handle,
    client: Arc<Client>,
}

impl Background {
    pub fn start(name: &str) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
        Ok(Self {
            handle,
            client: Arc::new(Client::new()),
        })
    }

    /// The thread's client: its connections belong to the thread's runtime,
    /// so futures run here use it rather than [`client`].
    pub fn client(&self) -> Arc<Client> {
        self.client.clone()
    }

    /// Runs `future` on the thread; await the handle (from any executor) for its output.
    pub fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    /// Reads one request's head (these tests send no bodies on GET).
    async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> bool {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => return false,
            }
        }
        true
    }

    fn answer(body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    /// An HTTP/1.1 server on 127.0.0.1 answering `body` to every request;
    /// after each answer it closes the connection when `close_after` is set
    /// (without saying so, as a server whose idle timeout fires does).
    /// Counts the connections it accepted.
    async fn server(body: &'static str, close_after: bool) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    while read_head(&mut stream).await {
                        if stream.write_all(&answer(body)).await.is_err() || close_after {
                            break;
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    #[tokio::test]
    async fn a_kept_connection_serves_the_next_call() {
        let (url, accepted) = server("kept", false).await;
        let client = Client::new();
        for _ in 0..3 {
            let r = client.get(&format!("{url}/x")).send().await.unwrap();
            assert_eq!((r.status, r.text().as_str()), (StatusCode::OK, "kept"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_replaced_not_failed() {
        let (url, accepted) = server("fresh", true).await;
        let client = Client::new();
        for _ in 0..3 {
            let r = client.get(&format!("{url}/x")).send().await.unwrap();
            assert_eq!(r.text(), "fresh");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_answer_over_the_limit_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            read_head(&mut stream).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                MAX_BODY + 1
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            let _ = stream.write_all(&vec![b'x'; MAX_BODY + 1]).await;
        });
        let err = Client::new().get(&url).send().await.unwrap_err();
        assert!(matches!(err, Error::TooLarge), "{err}");
    }

    #[tokio::test]
    async fn a_silent_server_times_the_call_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (_stream, _) = listener.accept().await.unwrap();
            std::future::pending::<()>().await;
        });
        let timeout = Duration::from_millis(200);
        let err = Client::new()
            .get(&url)
            .timeout(timeout)
            .send()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Timeout(t) if t == timeout), "{err}");
    }

    /// A self-signed certificate for `localhost`, made by openssl: (cert, key) PEM.
    fn self_signed() -> (Vec<u8>, Vec<u8>) {
        // One directory per call: tests run in parallel, and each removes its own.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("outbound-tls-{}-{call}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let made = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl runs (scripts/lib.sh installs it)");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let pems = (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
        pems
    }

    /// An HTTPS server on 127.0.0.1 for `localhost`, answering "secret";
    /// its port and the roots that trust it.
    async fn tls_server() -> (u16, RootCertStore) {
        let (cert_pem, key_pem) = self_signed();
        let cert = CertificateDer::from_pem_slice(&cert_pem).unwrap();
        let key = PrivateKeyDer::from_pem_slice(&key_pem).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    while read_head(&mut tls).await {
                        if tls.write_all(&answer("secret")).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let mut roots = RootCertStore::empty();
        roots.add(cert).unwrap();
        (port, roots)
    }

    #[tokio::test]
    async fn https_trusts_only_its_roots() {
        let (port, roots) = tls_server().await;
        let url = format!("https://localhost:{port}/keys");
        let trusted = Client::with_roots(roots).get(&url).send().await.unwrap();
        assert_eq!(trusted.text(), "secret");

        let stranger = Client::with_roots(RootCertStore::empty())
            .get(&url)
            .send()
            .await;
        assert!(matches!(stranger, Err(Error::Tls(..))), "{stranger:?}");
    }

    /// A CONNECT proxy on 127.0.0.1 that answers `status` and, on 200,
    /// tunnels; the request heads it received.
    async fn proxy(status: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    while !head.ends_with(b"\r\n\r\n") {
                        head.push(client.read_u8().await.unwrap());
                    }
                    let head = String::from_utf8(head).unwrap();
                    let target = head.split(' ').nth(1).unwrap().to_owned();
                    seen.lock().unwrap().push(head);
                    let reply = format!("HTTP/1.1 {status}\r\n\r\n");
                    client.write_all(reply.as_bytes()).await.unwrap();
                    if status.starts_with("200") {
                        let mut server = tokio::net::TcpStream::connect(target).await.unwrap();
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        (url, heads)
    }

    #[tokio::test]
    async fn https_goes_through_the_proxy_unless_no_proxy_lists_the_host() {
        let (port, roots) = tls_server().await;
        let url = format!("https://localhost:{port}/keys");
        let (proxy_url, heads) = proxy("200 Connection established").await;
        let with_credentials = proxy_url.replace("http://", "http://ops:p%40ss@");

        let tunnelled = Client::with_roots(roots.clone())
            .with_proxy(&with_credentials, "example.com")
            .unwrap();
        assert_eq!(tunnelled.get(&url).send().await.unwrap().text(), "secret");
        let seen = heads.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert!(
            seen[0].starts_with(&format!("CONNECT localhost:{port} HTTP/1.1\r\n")),
            "{}",
            seen[0]
        );
        // "ops:p@ss", the password percent-decoded.
        assert!(
            seen[0].contains("Proxy-Authorization: Basic b3BzOnBAc3M=\r\n"),
            "{}",
            seen[0]
        );

        let direct = Client::with_roots(roots)
            .with_proxy(&proxy_url, ".localhost,other")
            .unwrap();
        assert_eq!(direct.get(&url).send().await.unwrap().text(), "secret");
        assert_eq!(
            heads.lock().unwrap().len(),
            1,
            "NO_PROXY's host went through the proxy"
        );
    }

    #[tokio::test]
    async fn a_tunnel_the_proxy_refuses_fails_the_call() {
        let (proxy_url, _) = proxy("407 Proxy Authentication Required").await;
        let client = Client::new().with_proxy(&proxy_url, "").unwrap();
        let err = client.get("https://localhost:9/").send().await.unwrap_err();
        assert!(matches!(&err, Error::Connect(..)), "{err}");
        assert!(format!("{err:?}").contains("407"), "{err:?}");
    }
}
