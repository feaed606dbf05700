//! A video in a real browser: ffmpeg makes a 20 s VP9/WebM clip, it goes to
//! a public-read bucket over HTTPS, and headless Chromium opens a page from
//! the same bucket whose `<video>` plays it from the edge over HTTP/2, seeks
//! to the middle and near the end, and must play on after each seek. The
//! DevTools protocol shows what the edge answered: ranges (206 with
//! Content-Range) over `h2`, and on a second page load, the cache's hits.
//!
//! Without `chromium` or `ffmpeg` the test says so loudly and passes, so
//! that `cargo test` works with the Rust toolchain alone; with
//! `TESSERA_REQUIRE_CLIENT_TOOLS=1` (set by `.ci/run`, which installs them)
//! a missing tool fails it.

use std::io::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::chromium::{Chromium, Page};
use crate::harness::{ACCESS_KEY, Options, SECRET_KEY, TestCluster};
use crate::self_signed::SelfSigned;

const CLIP_SECONDS: u32 = 20;

/// Plays, seeks to the middle, then near the end; after each step reports
/// where playback stood right after the seek and 1.5 s of playing later.
const DRIVE: &str = r#"
(async () => {
  const v = document.querySelector('video');
  const once = (ev, ms) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ' + ev + ' within ' + ms + ' ms')), ms);
    v.addEventListener(ev, () => { clearTimeout(timer); resolve(); }, { once: true });
  });
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  try {
    if (v.readyState < 1) await once('loadedmetadata', 15000);
    const out = { duration: v.duration, steps: [] };
    await v.play();
    for (const target of [null, v.duration / 2, v.duration - 3]) {
      if (target !== null) {
        const seeked = once('seeked', 15000);
        v.currentTime = target;
        await seeked;
      }
      const from = v.currentTime;
      await sleep(1500);
      out.steps.push({ target, from, to: v.currentTime, paused: v.paused });
    }
    return out;
  } catch (e) {
    return { error: String(e), mediaError: v.error && v.error.code };
  }
})()
"#;

fn missing_tools() -> Vec<&'static str> {
    ["chromium", "ffmpeg"]
        .into_iter()
        .filter(|tool| {
            !std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {tool}"))
                .stdout(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect()
}

/// A VP9/WebM clip with a keyframe every second and its index (Cues) at
/// the front, so a seek is one range request; noise keeps the bitrate at
/// a real video's (~2 Mbit/s, 5 MB: two 4+2 stripes of 1 MiB shards).
async fn make_clip(dir: &std::path::Path) -> Vec<u8> {
    let path = dir.join("clip.webm");
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
            ])
            .arg(format!(
                "testsrc2=size=320x240:rate=24:duration={CLIP_SECONDS}"
            ))
            .args([
                "-vf",
                "noise=alls=12:allf=t",
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-b:v",
                "2M",
                "-g",
                "24",
                "-an",
                "-cues_to_front",
                "1",
                "-f",
                "webm",
            ])
            .arg(&path)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("ffmpeg timed out")
    .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(&path).expect("read the clip")
}

/// What the edge answered for the video during one page load.
#[derive(Debug)]
struct VideoResponse {
    status: u64,
    protocol: String,
    content_range: Option<String>,
    x_cache: Option<String>,
}

fn header(headers: &Value, name: &str) -> Option<String> {
    headers.as_object()?.iter().find_map(|(k, v)| {
        k.eq_ignore_ascii_case(name)
            .then(|| v.as_str().unwrap_or_default().to_owned())
    })
}

fn video_responses(events: &[Value]) -> Vec<VideoResponse> {
    events
        .iter()
        .filter(|e| e["method"] == "Network.responseReceived")
        .map(|e| &e["params"]["response"])
        .filter(|r| r["url"].as_str().is_some_and(|u| u.ends_with("/clip.webm")))
        .map(|r| VideoResponse {
            status: r["status"].as_u64().unwrap_or(0),
            protocol: r["protocol"].as_str().unwrap_or_default().to_owned(),
            content_range: header(&r["headers"], "content-range"),
            x_cache: header(&r["headers"], "x-cache"),
        })
        .collect()
}

/// Loads the page (browser cache off, so every byte comes from the edge),
/// plays and seeks; returns the playback report and the edge's answers.
async fn play_once(page: &mut Page, url: &str) -> (Value, Vec<VideoResponse>) {
    let from = page.events.len();
    page.call("Page.navigate", json!({ "url": url })).await;
    page.wait_event("Page.loadEventFired", from).await;
    let report = page.eval(DRIVE).await;
    (report, video_responses(&page.events[from..]))
}

fn assert_played_on_after_each_seek(pass: &str, report: &Value) {
    assert!(
        report.get("error").is_none(),
        "{pass}: playback failed: {report}"
    );
    let duration = report["duration"].as_f64().expect("duration");
    assert!(
        (f64::from(CLIP_SECONDS) - duration).abs() < 1.0,
        "{pass}: duration {duration}"
    );
    let steps = report["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 3, "{pass}: {report}");
    for step in steps {
        let from = step["from"].as_f64().expect("from");
        let to = step["to"].as_f64().expect("to");
        if let Some(target) = step["target"].as_f64() {
            assert!(
                (from - target).abs() < 1.0,
                "{pass}: the seek to {target} landed at {from}"
            );
        }
        assert!(
            to - from > 0.5,
            "{pass}: playback did not advance from {from} (at {to}): {report}"
        );
    }
}

fn assert_ranges_over_h2(pass: &str, responses: &[VideoResponse], size: usize) {
    assert!(!responses.is_empty(), "{pass}: the video was never fetched");
    for r in responses {
        assert_eq!(r.status, 206, "{pass}: {r:?}");
        assert_eq!(r.protocol, "h2", "{pass}: {r:?}");
        let range = r.content_range.as_deref().unwrap_or_default();
        assert!(
            range.starts_with("bytes ") && range.ends_with(&format!("/{size}")),
            "{pass}: {r:?}"
        );
    }
    // Whether a seek needs a range of its own depends on how much Chromium
    // had buffered by then (on a busy machine, often the whole clip), so
    // none past the start is required.
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_plays_and_seeks_a_video_from_the_edge_over_https() {
    let missing = missing_tools();
    if !missing.is_empty() {
        let required = std::env::var("TESSERA_REQUIRE_CLIENT_TOOLS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "TESSERA_REQUIRE_CLIENT_TOOLS=1 and {missing:?} are not installed"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!! browser_video SKIPPED: {missing:?} not installed. The real-browser \
             video test did not run; .ci/run installs them. !!!!!\n"
        );
        return;
    }
    // Bounded as a whole: a hung browser fails the test instead of the run.
    tokio::time::timeout(Duration::from_secs(90), run())
        .await
        .expect("the browser video test took over 90 s");
}

async fn run() {
    let work = tempfile::tempdir().expect("temp dir");
    let cert = SelfSigned::generate();
    let (t, clip) = tokio::join!(
        TestCluster::start_with(Options {
            edge_args: cert.edge_args(),
            ..Options::default()
        }),
        make_clip(work.path())
    );
    let endpoint = format!("https://{}", t.cluster.spec().s3_addr);
    let s3 = cert.s3_client(&endpoint, ACCESS_KEY, SECRET_KEY);
    s3.create_bucket().bucket("media").send().await.unwrap();
    s3.put_bucket_acl()
        .bucket("media")
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("media")
        .key("clip.webm")
        .content_type("video/webm")
        .body(clip.clone().into())
        .send()
        .await
        .unwrap();
    let html = "<!doctype html><title>clip</title>\
                <video muted playsinline preload=\"metadata\" src=\"clip.webm\"></video>";
    s3.put_object()
        .bucket("media")
        .key("player.html")
        .content_type("text/html; charset=utf-8")
        .body(html.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();

    let browser = Chromium::launch().await;
    let mut page = browser.new_page().await;
    page.call("Page.enable", json!({})).await;
    page.call("Network.enable", json!({})).await;
    // Every load asks the edge, never Chromium's own cache.
    page.call("Network.setCacheDisabled", json!({ "cacheDisabled": true }))
        .await;
    let url = format!("{endpoint}/media/player.html");

    let (first, first_answers) = play_once(&mut page, &url).await;
    assert_played_on_after_each_seek("first load", &first);
    assert_ranges_over_h2("first load", &first_answers, clip.len());

    let (second, second_answers) = play_once(&mut page, &url).await;
    assert_played_on_after_each_seek("second load", &second);
    assert_ranges_over_h2("second load", &second_answers, clip.len());

    // ---- Needs the edge's shard cache. ----
    // The second load's ranges were all read on the first: every one must
    // come from the edge's memory.
    for r in &second_answers {
        assert_eq!(
            r.x_cache.as_deref(),
            Some("hit"),
            "second load, a range not served from the edge's cache: {r:?} \
             (all answers: {second_answers:?})"
        );
    }
}
