//! A network partition between one function and AWS: a TCP proxy on loopback that the function
//! is configured to reach AWS through. While cut, it drops every connection it is offered, so each
//! call of the function fails as a lost connection does; healed, it forwards to AWS. The function
//! itself is never touched, as an outage would not touch it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};

pub struct Partition {
    pub url: String,
    cut: Arc<AtomicBool>,
    server: tokio::task::JoinHandle<()>,
}

impl Partition {
    /// A proxy to `upstream` (`http://host:port`), cut from the start.
    pub async fn cut_from(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port for the proxy");
        let url = format!("http://{}", listener.local_addr().expect("the proxy's address"));
        let cut = Arc::new(AtomicBool::new(true));
        let server = tokio::spawn({
            let cut = Arc::clone(&cut);
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        continue; // dropped: the caller's connection is reset
                    }
                    let upstream = upstream.clone();
                    tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            }
        });
        Self { url, cut, server }
    }

    /// Lets connections through from now on.
    pub fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        self.server.abort();
    }
}
