//! Slow and idle clients cannot hold the server's sockets (SPEC §6): a connection that
//! sends nothing, or trickles its request head, is closed after the head deadline; an
//! upload whose body stalls is ended (a resumable one keeps what arrived); an upload that
//! keeps moving, however slowly, is not; and one client address cannot take more than
//! its share of connections while another is served. The deadlines are set small here;
//! every check waits with a generous deadline of its own rather than timing anything.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::app::spawn_app;

/// Far above any deadline under test: the machine may be slow.
const GENEROUS: Duration = Duration::from_secs(30);

fn addr_of(url: &str) -> std::net::SocketAddr {
    url.trim_start_matches("http://").parse().unwrap()
}

async fn connect_from(source: &str, url: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(addr_of(url)).await.unwrap()
}

/// Reads until the server closes the connection; returns what it sent.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(GENEROUS, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server never closed the connection");
    String::from_utf8_lossy(&got).into_owned()
}

/// Whether the server has closed the connection (without waiting for it to).
async fn is_open(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(50), stream.peek(&mut buf)).await {
        Err(_) => true,     // nothing to read: still open
        Ok(Ok(0)) => false, // closed
        Ok(Ok(_)) => true,  // something sent, connection up
        Ok(Err(_)) => false,
    }
}

#[tokio::test]
async fn silent_and_trickling_clients_are_cut_off_moving_uploads_are_not() {
    let app = spawn_app(&[
        "--request-head-timeout-secs",
        "2",
        "--keep-alive-timeout-secs",
        "3",
        "--body-idle-timeout-secs",
        "2",
    ]);

    // Silent: open, then closed once the head deadline passes.
    let start = Instant::now();
    let mut silent = connect_from("127.0.0.1", &app.url).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(is_open(&mut silent).await, "closed before its deadline");
    until_closed(&mut silent).await;
    eprintln!("silent connection closed after {:?}", start.elapsed());

    // Trickling its head, one header line every half second: cut off all the same.
    let mut trickle = connect_from("127.0.0.1", &app.url).await;
    let writer = async {
        trickle.write_all(b"GET /healthz HTTP/1.1\r\n").await?;
        for i in 0..60 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            trickle
                .write_all(format!("X-Slow-{i}: yes\r\n").as_bytes())
                .await?;
        }
        Ok::<_, std::io::Error>(())
    };
    let written = tokio::time::timeout(GENEROUS, writer).await;
    assert!(
        matches!(written, Ok(Err(_))),
        "the trickling head was never refused: {written:?}"
    );

    // A resumable upload sent slowly but steadily, for longer than every deadline
    // above: it completes.
    let total = 24usize;
    let created = app
        .auth(app.http.post(app.api("/stream")))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", total.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let path = location.splitn(4, '/').nth(3).unwrap().to_owned();
    let mut slow = connect_from("127.0.0.1", &app.url).await;
    let head = format!(
        "PATCH /{path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {total}\r\n\r\n",
        app.account.token
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    for _ in 0..total {
        tokio::time::sleep(Duration::from_millis(250)).await;
        slow.write_all(b"x").await.unwrap();
    }
    let mut answer = [0u8; 1024];
    let n = tokio::time::timeout(GENEROUS, slow.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    assert!(
        answer.contains(&format!("upload-offset: {total}")),
        "{answer}"
    );
    eprintln!("a steady upload of {:?} completed", started.elapsed());

    // A stalled body: the request is ended, and what arrived is kept.
    let created = app
        .auth(app.http.post(app.api("/stream")))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "1000")
        .send()
        .await
        .unwrap();
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let path = location.splitn(4, '/').nth(3).unwrap().to_owned();
    let mut stalled = connect_from("127.0.0.1", &app.url).await;
    let head = format!(
        "PATCH /{path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 1000\r\n\r\n",
        app.account.token
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    stalled.write_all(&[b'y'; 100]).await.unwrap();
    until_closed(&mut stalled).await;
    let offset = tokio::time::timeout(GENEROUS, async {
        loop {
            let head = app
                .auth(app.http.head(&location))
                .header("Tus-Resumable", "1.0.0")
                .send()
                .await
                .unwrap();
            let offset: u64 = head.headers()["upload-offset"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            if offset > 0 {
                return offset;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(
        offset, 100,
        "the bytes that arrived before the stall are kept"
    );
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let app = spawn_app(&["--max-connections-per-client", "4"]);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from("127.0.0.1", &app.url).await);
    }
    // The fifth from that address is told why and closed...
    let mut fifth = connect_from("127.0.0.1", &app.url).await;
    let refused = until_closed(&mut fifth).await;
    assert!(
        refused.starts_with("HTTP/1.1 503") && refused.ends_with("too many connections\n"),
        "{refused}"
    );
    // ...while another address is served.
    let mut other = connect_from("127.0.0.2", &app.url).await;
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut other).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Once one of the four lets go, the address is served again.
    drop(held.pop());
    let served = tokio::time::timeout(GENEROUS, async {
        loop {
            let mut again = connect_from("127.0.0.1", &app.url).await;
            again
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let answer = until_closed(&mut again).await;
            if answer.starts_with("HTTP/1.1 200") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(served.is_ok(), "the address stayed refused");
}
