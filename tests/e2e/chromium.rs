//! Headless Chromium under test control: started in its own process group
//! with a throwaway profile, killed with every child on drop, and driven over
//! the DevTools protocol (one page, its network events recorded).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A running browser; its whole process group dies with this value.
pub struct Chromium {
    child: tokio::process::Child,
    _profile: tempfile::TempDir,
    devtools: String,
}

impl Drop for Chromium {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            // The renderer, GPU and utility processes share the group.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.child.start_kill();
    }
}

impl Chromium {
    /// Starts `chromium` headless with the flags a CI box needs, trusting
    /// any certificate (the edge's is self-signed), autoplay allowed.
    pub async fn launch() -> Self {
        let profile = tempfile::tempdir().expect("profile dir");
        let child = tokio::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-dev-shm-usage",
                "--mute-audio",
                "--autoplay-policy=no-user-gesture-required",
                "--ignore-certificate-errors",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("start chromium");
        let mut browser = Chromium {
            child,
            _profile: profile,
            devtools: String::new(),
        };
        browser.devtools = devtools_url(browser._profile.path()).await;
        browser
    }

    /// Opens a fresh tab and attaches to it.
    pub async fn new_page(&self) -> Page {
        let (socket, _) = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(self.devtools.as_str()),
        )
        .await
        .expect("DevTools connect timed out")
        .expect("DevTools connect");
        let mut page = Page {
            socket,
            session: None,
            next_id: 0,
            events: Vec::new(),
        };
        let target = page
            .call("Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let target_id = target["targetId"].as_str().expect("targetId").to_owned();
        let attached = page
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await;
        page.session = Some(
            attached["sessionId"]
                .as_str()
                .expect("sessionId")
                .to_owned(),
        );
        page
    }
}

/// Chromium writes its DevTools port and browser path to the profile once
/// it listens.
async fn devtools_url(profile: &Path) -> String {
    let file = profile.join("DevToolsActivePort");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                return format!("ws://127.0.0.1:{port}{path}");
            }
        }
        assert!(Instant::now() < deadline, "chromium never opened DevTools");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One tab, spoken to over the browser's DevTools socket.
pub struct Page {
    socket: Socket,
    session: Option<String>,
    next_id: u64,
    /// Every event received so far, in order (`method` and `params`).
    pub events: Vec<Value>,
}

impl Page {
    /// Sends a command and waits (at most 45 s) for its answer, keeping the
    /// events that arrive meanwhile.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("DevTools send");
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            let reply = self.next_message(deadline, method).await;
            if reply["id"].as_u64() == Some(id) {
                if let Some(error) = reply.get("error") {
                    panic!("{method} failed: {error}");
                }
                return reply["result"].clone();
            }
        }
    }

    /// Waits for an event named `method` not yet seen after index `from` of
    /// [`Page::events`].
    pub async fn wait_event(&mut self, method: &str, from: usize) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(e) = self.events[from.min(self.events.len())..]
                .iter()
                .find(|e| e["method"] == method)
            {
                return e.clone();
            }
            self.next_message(deadline, method).await;
        }
    }

    async fn next_message(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, self.socket.next())
            .await
            .unwrap_or_else(|_| panic!("no answer to {waiting_for} in time"))
            .expect("DevTools socket closed")
            .expect("DevTools socket");
        let Message::Text(text) = message else {
            return Value::Null;
        };
        let value: Value = serde_json::from_str(&text).expect("DevTools sends JSON");
        if value.get("method").is_some() {
            self.events.push(value.clone());
        }
        value
    }

    /// Evaluates `expression` in the page, awaiting a promise, and returns
    /// its JSON value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let out = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
            )
            .await;
        if let Some(exception) = out.get("exceptionDetails") {
            panic!("{expression} threw: {exception}");
        }
        out["result"]["value"].clone()
    }
}
