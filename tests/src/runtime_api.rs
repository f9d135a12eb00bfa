//! A Lambda Runtime API server on 127.0.0.1, so a function's real binary runs the way Lambda runs
//! it: it polls `/invocation/next`, handles the event, and posts a response or an error.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Mutex};

/// What the function answered: its response body, or the error it reported.
#[derive(Debug, Clone)]
pub enum Answer {
    Response(Value),
    Error(Value),
    InitError(Value),
}

struct Pending {
    id: String,
    event: Value,
    reply: oneshot::Sender<Answer>,
}

struct State {
    queue: Mutex<mpsc::Receiver<Pending>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    init_error: Mutex<Option<oneshot::Sender<Answer>>>,
    /// When the function first asked for an event (the end of its init), and when it posted its
    /// first answer: the benchmark's split of a cold start.
    first_poll: std::sync::Mutex<Option<Instant>>,
    first_answer: std::sync::Mutex<Option<Instant>>,
}

pub struct RuntimeApi {
    pub addr: std::net::SocketAddr,
    tx: mpsc::Sender<Pending>,
    state: Arc<State>,
    next_id: std::sync::atomic::AtomicU64,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let state = Arc::new(State {
            queue: Mutex::new(rx),
            waiting: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            first_poll: std::sync::Mutex::new(None),
            first_answer: std::sync::Mutex::new(None),
        });
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, st).await;
                });
            }
        });
        Ok(RuntimeApi {
            addr,
            tx,
            state,
            next_id: std::sync::atomic::AtomicU64::new(1),
        })
    }

    /// Hands an event to the function and waits for its answer.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Result<Answer, String> {
        let id = format!(
            "00000000-0000-4000-8000-{:012}",
            self.next_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let (reply, rx) = oneshot::channel();
        let (init_tx, init_rx) = oneshot::channel();
        *self.state.init_error.lock().await = Some(init_tx);
        self.tx
            .send(Pending { id, event, reply })
            .await
            .map_err(|_| "the runtime API is closed".to_string())?;
        tokio::select! {
            a = rx => a.map_err(|_| "the function never answered".to_string()),
            a = init_rx => a.map_err(|_| "the function never answered".to_string()),
            _ = tokio::time::sleep(timeout) => Err(format!("no answer within {timeout:?}")),
        }
    }

    /// When the function first polled `/invocation/next`: its init ended then.
    pub fn first_poll(&self) -> Option<Instant> {
        *self
            .state
            .first_poll
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// When the function posted its first response or error.
    pub fn first_answer(&self) -> Option<Instant> {
        *self
            .state
            .first_answer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The environment Lambda gives a function process, pointed at this server.
    pub fn lambda_env(&self, function: &str) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.addr.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", function.to_string()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "local".into()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function}"),
            ),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// A function binary started under a [`RuntimeApi`]; killed when dropped.
pub struct FunctionProcess {
    pub child: tokio::process::Child,
    pub started: Instant,
}

impl FunctionProcess {
    pub fn spawn(
        bin: &Path,
        api: &RuntimeApi,
        function: &str,
        env: &[(String, String)],
    ) -> std::io::Result<Self> {
        let mut cmd = tokio::process::Command::new(bin);
        cmd.env_clear()
            .envs(api.lambda_env(function))
            .envs(env.iter().cloned())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        Ok(FunctionProcess {
            child: cmd.spawn()?,
            started,
        })
    }

    /// Stops the process and returns what it logged.
    pub async fn stop(mut self) -> String {
        let _ = self.child.start_kill();
        let mut out = String::new();
        if let Some(mut s) = self.child.stdout.take() {
            let _ = s.read_to_string(&mut out).await;
        }
        if let Some(mut s) = self.child.stderr.take() {
            let _ = s.read_to_string(&mut out).await;
        }
        let _ = self.child.wait().await;
        out
    }
}

/// Keeps the first time an instant was marked.
fn mark(at: &std::sync::Mutex<Option<Instant>>) {
    at.lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(Instant::now);
}

async fn serve(sock: TcpStream, st: Arc<State>) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).await? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).await?;
        let parsed = || serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);

        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method.as_str(), segs.as_slice()) {
            ("GET", ["2018-06-01", "runtime", "invocation", "next"]) => {
                mark(&st.first_poll);
                let next = st.queue.lock().await.recv().await;
                let Some(p) = next else { return Ok(()) };
                let payload = serde_json::to_vec(&p.event).unwrap_or_default();
                st.waiting.lock().await.insert(p.id.clone(), p.reply);
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() + 60_000)
                    .unwrap_or(0);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Lambda-Runtime-Aws-Request-Id: {}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
                     Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:quell\r\n\
                     Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n\r\n",
                    payload.len(),
                    p.id
                );
                w.write_all(head.as_bytes()).await?;
                w.write_all(&payload).await?;
            }
            ("POST", ["2018-06-01", "runtime", "invocation", id, kind]) => {
                mark(&st.first_answer);
                let answer = if *kind == "response" {
                    Answer::Response(parsed())
                } else {
                    Answer::Error(parsed())
                };
                if let Some(tx) = st.waiting.lock().await.remove(*id) {
                    let _ = tx.send(answer);
                }
                accepted(&mut w).await?;
            }
            ("POST", ["2018-06-01", "runtime", "init", "error"]) => {
                if let Some(tx) = st.init_error.lock().await.take() {
                    let _ = tx.send(Answer::InitError(parsed()));
                }
                accepted(&mut w).await?;
            }
            _ => {
                w.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    .await?;
            }
        }
    }
}

async fn accepted(w: &mut tokio::net::tcp::OwnedWriteHalf) -> std::io::Result<()> {
    w.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n")
        .await
}
