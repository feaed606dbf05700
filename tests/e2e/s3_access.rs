//! Users, their keys, bucket ownership and public-read buckets: the admin
//! command against a running cluster, no restarts.

use std::time::{Duration, Instant};

use crate::harness::{TestCluster, get, put};

fn code<E: aws_sdk_s3::error::ProvideErrorMetadata>(e: E) -> String {
    e.code().unwrap_or("<none>").to_owned()
}

/// Creates a user with the admin command; returns its first key.
async fn create_user(t: &TestCluster, name: &str) -> (String, String) {
    let (ok, out) = t.admin(&["user", "create", name]).await;
    assert!(ok, "user create {name}: {out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("admin prints JSON");
    let key = &v["key"];
    (
        key["access_key"].as_str().expect("access key").to_owned(),
        key["secret_key"].as_str().expect("secret").to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn users_own_their_buckets_and_keys_are_revoked_live() {
    let t = TestCluster::start().await;
    let (alice_id, alice_secret) = create_user(&t, "alice").await;
    let (bob_id, bob_secret) = create_user(&t, "bob").await;
    let alice = t.client_with(&alice_id, &alice_secret);
    let bob = t.client_with(&bob_id, &bob_secret);

    alice.create_bucket().bucket("alices").send().await.unwrap();
    put(&alice, "alices", "clip.mp4", b"alice's video").await;
    bob.create_bucket().bucket("bobs").send().await.unwrap();

    // Another user gets AccessDenied for everything in the bucket.
    let e = bob
        .get_object()
        .bucket("alices")
        .key("clip.mp4")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(e.into_service_error()), "AccessDenied");
    let e = bob
        .put_object()
        .bucket("alices")
        .key("x")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(e.into_service_error()), "AccessDenied");
    let e = bob
        .list_objects_v2()
        .bucket("alices")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(e.into_service_error()), "AccessDenied");
    let e = bob
        .delete_bucket()
        .bucket("alices")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(e.into_service_error()), "AccessDenied");
    let e = bob
        .create_bucket()
        .bucket("alices")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(e.into_service_error()), "BucketAlreadyExists");

    // Each user lists only their own buckets.
    let names = |out: aws_sdk_s3::operation::list_buckets::ListBucketsOutput| -> Vec<String> {
        out.buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_owned))
            .collect()
    };
    assert_eq!(
        names(alice.list_buckets().send().await.unwrap()),
        ["alices"]
    );
    assert_eq!(names(bob.list_buckets().send().await.unwrap()), ["bobs"]);

    // A second key of the same user reaches the same buckets.
    let (ok, out) = t.admin(&["key", "create", "alice"]).await;
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let alice2 = t.client_with(
        v["access_key"].as_str().unwrap(),
        v["secret_key"].as_str().unwrap(),
    );
    assert_eq!(
        get(&alice2, "alices", "clip.mp4", None).await,
        b"alice's video"
    );

    // Listings show users and keys, never secrets.
    let (ok, out) = t.admin(&["user", "list"]).await;
    assert!(ok, "{out}");
    let users: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let users: Vec<(&str, bool)> = users
        .iter()
        .filter_map(|u| Some((u["name"].as_str()?, u["configured"].as_bool()?)))
        .collect();
    // With the user of the edge's configured key, which the edge claims.
    assert_eq!(
        users,
        [
            ("alice", false),
            ("bob", false),
            (crate::harness::ACCESS_KEY, true)
        ]
    );
    let (ok, out) = t.admin(&["key", "list", "--user", "alice"]).await;
    assert!(ok, "{out}");
    assert!(!out.contains(&alice_secret), "a listing showed a secret");
    let keys: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(keys.len(), 2);
    // Keys of a user that does not exist are an error, not an empty list.
    let (ok, out) = t.admin(&["key", "list", "--user", "nobody"]).await;
    assert!(!ok && out.contains("no user named nobody"), "{out}");

    // Revoking the first key stops it within seconds, without a restart;
    // the other key keeps working.
    let (ok, out) = t.admin(&["key", "revoke", &alice_id]).await;
    assert!(ok, "{out}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match alice.head_bucket().bucket("alices").send().await {
            Ok(_) => {
                assert!(Instant::now() < deadline, "revoked key still accepted");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => {
                // HEAD has no body: the status tells.
                assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(403));
                break;
            }
        }
    }
    let e = alice
        .get_object()
        .bucket("alices")
        .key("clip.mp4")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(e.into_service_error()), "InvalidAccessKeyId");
    assert_eq!(
        get(&alice2, "alices", "clip.mp4", None).await,
        b"alice's video"
    );

    // A user who owns buckets cannot be deleted; once they are gone, it can,
    // and its keys go with it.
    let (ok, out) = t.admin(&["user", "delete", "bob"]).await;
    // The refusal names the buckets in the way.
    assert!(!ok && out.contains("owns buckets: bobs;"), "{out}");
    bob.delete_bucket().bucket("bobs").send().await.unwrap();
    let (ok, out) = t.admin(&["user", "delete", "bob"]).await;
    assert!(ok, "{out}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while bob.list_buckets().send().await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "deleted user's key still accepted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Options may follow the subcommand too.
    let (ok, out) = t.admin(&["user", "list", "--json"]).await;
    assert!(ok, "{out}");

    // Bad input to the admin command is an error, not a crash.
    let (ok, _) = t.admin(&["user", "create", "bad name"]).await;
    assert!(!ok);
    let (ok, out) = t.admin(&["key", "create", "nobody"]).await;
    assert!(!ok && out.contains("does not exist"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn public_read_buckets_serve_anonymous_get_and_head_only() {
    let t = TestCluster::start().await;
    let http = reqwest::Client::new();
    let endpoint = t.cluster.s3_endpoint();
    let video = tests::pattern(300 * 1024, 7);

    t.s3.create_bucket().bucket("private").send().await.unwrap();
    put(&t.s3, "private", "v.webm", &video).await;
    t.s3.create_bucket()
        .bucket("public")
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    put(&t.s3, "public", "v.webm", &video).await;

    // Anonymous GET (also ranged) and HEAD of a public-read bucket's objects.
    let resp = http
        .get(format!("{endpoint}/public/v.webm"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), video.as_slice());
    let resp = http
        .get(format!("{endpoint}/public/v.webm"))
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 206);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &video[1000..2000]);
    let resp = http
        .head(format!("{endpoint}/public/v.webm"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()["content-length"].to_str().unwrap(),
        video.len().to_string()
    );
    let resp = http
        .get(format!("{endpoint}/public/missing"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);

    // Nothing else is anonymous: not listing, not writing, not deleting,
    // and not a private bucket (nor whether a bucket exists).
    for (method, path) in [
        ("GET", "/public"),
        ("GET", "/public?list-type=2"),
        ("PUT", "/public/new"),
        ("DELETE", "/public/v.webm"),
        ("GET", "/private/v.webm"),
        ("HEAD", "/private/v.webm"),
        ("GET", "/no-such-bucket/v.webm"),
        ("GET", "/"),
    ] {
        let resp = http
            .request(method.parse().unwrap(), format!("{endpoint}{path}"))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 403, "{method} {path}");
    }
    assert_eq!(get(&t.s3, "public", "v.webm", None).await, video);

    // The ACL reads back, and switching to private closes the door at once
    // on this edge.
    let acl = t.s3.get_bucket_acl().bucket("public").send().await.unwrap();
    let all_users = acl.grants().iter().any(|g| {
        g.grantee().and_then(|g| g.uri()) == Some("http://acs.amazonaws.com/groups/global/AllUsers")
            && g.permission() == Some(&aws_sdk_s3::types::Permission::Read)
    });
    assert!(all_users, "{acl:?}");
    t.s3.put_bucket_acl()
        .bucket("public")
        .acl(aws_sdk_s3::types::BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    let resp = http
        .get(format!("{endpoint}/public/v.webm"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let acl = t.s3.get_bucket_acl().bucket("public").send().await.unwrap();
    assert_eq!(acl.grants().len(), 1);

    // And back to public-read, by the canned ACL on the existing bucket.
    t.s3.put_bucket_acl()
        .bucket("private")
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let resp = http
        .get(format!("{endpoint}/private/v.webm"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    // Objects have no ACLs of their own: asking for one is refused, not
    // ignored; "private" (which rclone sends by default) is fine.
    let e =
        t.s3.put_object()
            .bucket("private")
            .key("acl")
            .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
            .body(b"x".to_vec().into())
            .send()
            .await
            .unwrap_err();
    assert_eq!(code(e.into_service_error()), "NotImplemented");
    t.s3.put_object()
        .bucket("private")
        .key("acl")
        .acl(aws_sdk_s3::types::ObjectCannedAcl::Private)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();

    // ACLs we do not offer are refused, not ignored.
    let e =
        t.s3.put_bucket_acl()
            .bucket("private")
            .acl(aws_sdk_s3::types::BucketCannedAcl::PublicReadWrite)
            .send()
            .await
            .unwrap_err();
    assert_eq!(code(e.into_service_error()), "NotImplemented");
}

/// A PUT checks the bucket's owner when it starts, and lands in that bucket
/// or nowhere. Here the bucket is deleted and created again by another user
/// while the body is still on its way: the PUT answers `NoSuchBucket`, the
/// new owner's bucket stays empty, and the shards already written for the
/// body leave the disks like those of any refused upload.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_put_never_lands_in_a_bucket_created_again_meanwhile() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::garbage_collection::files_on_disk;
    use crate::harness::Options;
    use crate::raw_sigv4::{Signer, host_of};

    let t = TestCluster::start_with(Options {
        gc_grace: Some(Duration::from_secs(1)),
        ..Options::default()
    })
    .await;
    let (bob_id, bob_secret) = create_user(&t, "bob").await;
    let bob = t.client_with(&bob_id, &bob_secret);
    t.s3.create_bucket().bucket("shared").send().await.unwrap();

    // The PUT's head and the first stripes of its body, by the test user.
    const MIB: usize = 1024 * 1024;
    let body = tests::pattern(9 * MIB, 7);
    let endpoint = t.cluster.s3_endpoint();
    let host = host_of(&endpoint);
    let signed = Signer::for_tests().sign_request(
        "PUT",
        &host,
        "/shared/slow.bin",
        "",
        Vec::new(),
        "UNSIGNED-PAYLOAD",
        time::OffsetDateTime::now_utc(),
    );
    let mut head = "PUT /shared/slow.bin HTTP/1.1\r\n".to_owned();
    for (k, v) in &signed.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut conn = tokio::net::TcpStream::connect(&host).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body[..6 * MIB]).await.unwrap();
    conn.flush().await.unwrap();
    // Shards of the body are on the disks: the gateway checked the bucket
    // and is storing the body.
    let deadline = Instant::now() + Duration::from_secs(20);
    while files_on_disk(&t).is_empty() {
        assert!(
            Instant::now() < deadline,
            "no shard of the body was written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Meanwhile the bucket goes, and Bob takes the name.
    t.s3.delete_bucket().bucket("shared").send().await.unwrap();
    bob.create_bucket().bucket("shared").send().await.unwrap();

    conn.write_all(&body[6 * MIB..]).await.unwrap();
    conn.flush().await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), conn.read_to_end(&mut answer))
        .await
        .expect("the PUT is answered")
        .expect("read the answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 404") && answer.contains("<Code>NoSuchBucket</Code>"),
        "{answer}"
    );

    // Bob's bucket holds nothing of it.
    let e = bob
        .head_object()
        .bucket("shared")
        .key("slow.bin")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
    let listed = bob.list_objects_v2().bucket("shared").send().await.unwrap();
    assert!(listed.contents().is_empty(), "{:?}", listed.contents());

    // And the body's shards are collected.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let left = files_on_disk(&t).len();
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} shard files of the refused PUT are still on disk"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// `edge admin ... | head -1`: the reader goes away before the command
/// prints; the command ends quietly with success, not a broken-pipe panic.
#[tokio::test(flavor = "multi_thread")]
async fn admin_output_into_a_closed_pipe_ends_quietly() {
    let t = TestCluster::start().await;
    for name in ["carol", "dave", "erin"] {
        create_user(&t, name).await;
    }
    for args in [&["user", "list"][..], &["key", "list"], &["status"]] {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .arg("admin")
            .arg("--metadata-url")
            .arg(t.cluster.spec().metadata_url())
            .args(args)
            .env("TESSERA_CLUSTER_SECRET", crate::harness::CLUSTER_SECRET)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("admin command starts");
        // Close the read end at once, as `head` does once it has its lines.
        drop(child.stdout.take());
        let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
            .await
            .expect("admin command timed out")
            .expect("admin command runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// A user made with the admin command cannot take the name of a configured
/// key's user, before or after that user owns buckets: it would sign for
/// them, and could never be deleted (the buckets are not its own).
#[tokio::test(flavor = "multi_thread")]
async fn an_admin_user_cannot_take_a_configured_users_name() {
    let t = TestCluster::start().await;
    // The cluster's configured key signs as user "test-access" (its key id).
    // Its edge claims that name at start, before the user owns anything.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (ok, out) = t.admin(&["user", "list"]).await;
        assert!(ok, "{out}");
        let users: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        if users
            .iter()
            .any(|u| u["name"] == crate::harness::ACCESS_KEY && u["configured"] == true)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "configured user never claimed: {out}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = |out: &str| {
        assert!(out.contains("exists already"), "{out}");
        assert_eq!(out.trim().lines().count(), 1, "one line: {out}");
    };
    let (ok, out) = t
        .admin(&["user", "create", crate::harness::ACCESS_KEY])
        .await;
    assert!(
        !ok,
        "user create {} succeeded: {out}",
        crate::harness::ACCESS_KEY
    );
    refused(&out);

    t.s3.create_bucket()
        .bucket("configured")
        .send()
        .await
        .unwrap();
    put(&t.s3, "configured", "clip.mp4", b"configured video").await;
    let (ok, out) = t
        .admin(&["user", "create", crate::harness::ACCESS_KEY])
        .await;
    assert!(!ok, "{out}");
    refused(&out);
    // Its claim is not deleted while it owns the bucket, and the refusal
    // names the bucket.
    let (ok, out) = t
        .admin(&["user", "delete", crate::harness::ACCESS_KEY])
        .await;
    assert!(!ok && out.contains("owns buckets: configured;"), "{out}");
    // Other names are free, and the configured key keeps its bucket.
    create_user(&t, "carol").await;
    assert_eq!(
        get(&t.s3, "configured", "clip.mp4", None).await,
        b"configured video"
    );
}
