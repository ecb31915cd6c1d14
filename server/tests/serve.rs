//! Serving over a real socket: graceful shutdown finishes the requests in flight, refuses new
//! connections, and gives up after the grace period.

mod common;

use campus_voip_server::http;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A `--dev` app served on a loopback port until `stop_tx` fires, with this shutdown grace.
async fn serve_dev(
    grace: Duration,
) -> (
    common::TestApp,
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let app = common::Build {
        dev: true,
        ..Default::default()
    }
    .start();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(
        listener,
        app.router.clone(),
        async move {
            let _ = stop_rx.await;
        },
        grace,
    ));
    (app, addr, stop_tx, server)
}

async fn read_all(mut s: TcpStream) -> String {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_requests_and_stops_accepting() {
    let (app, addr, stop_tx, server) = serve_dev(Duration::from_secs(5)).await;

    // A request whose body is still arriving when the shutdown starts.
    let body = br#"{"openId":"o_dad"}"#;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!(
            "POST /v1/dev/session HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    s.write_all(&body[..5]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop_tx.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // New connections are refused once the listener is closed.
    let refused = TcpStream::connect(addr).await;
    if let Ok(mut c) = refused {
        // A connection the OS accepted into the backlog before close gets no answer.
        let _ = c
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf)).await;
        assert!(
            !matches!(n, Ok(Ok(k)) if k > 0),
            "a new connection was served after shutdown"
        );
    }
    s.write_all(&body[5..]).await.unwrap();
    let reply = read_all(s).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"session\":\"v1."), "{reply}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns once the in-flight request is done")
        .unwrap()
        .unwrap();
    app.state.db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_up_after_the_grace_period() {
    let (app, addr, stop_tx, server) = serve_dev(Duration::from_millis(300)).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /v1/dev/session HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns after the grace period")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    app.state.db.close();
}
