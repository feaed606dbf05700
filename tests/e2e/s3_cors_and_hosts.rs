//! CORS (bucket configuration, preflights before any signature check, allow
//! headers on actual responses) and virtual-hosted-style addressing.

use aws_sdk_s3::types::{BucketCannedAcl, CorsConfiguration, CorsRule};

use crate::harness::{Options, TestCluster, get, put};
use crate::raw_sigv4::{Dated, Signer};

const APP: &str = "https://app.example.com";

fn code<E: aws_sdk_s3::error::ProvideErrorMetadata>(e: E) -> String {
    e.code().unwrap_or("<none>").to_owned()
}

async fn preflight(
    http: &reqwest::Client,
    url: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> reqwest::Response {
    http.request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_configuration_preflights_and_response_headers() {
    let t = TestCluster::start().await;
    let http = reqwest::Client::new();
    let endpoint = t.cluster.s3_endpoint();
    t.s3.create_bucket()
        .bucket("player")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    put(&t.s3, "player", "v.webm", b"video bytes").await;
    let url = format!("{endpoint}/player/v.webm");

    // No configuration yet: reading it is NoSuchCORSConfiguration, and a
    // preflight is refused.
    let e =
        t.s3.get_bucket_cors()
            .bucket("player")
            .send()
            .await
            .unwrap_err();
    assert_eq!(code(e.into_service_error()), "NoSuchCORSConfiguration");
    let resp = preflight(&http, &url, APP, "GET", "").await;
    assert_eq!(resp.status().as_u16(), 403);
    assert!(resp.text().await.unwrap().contains("CORS is not enabled"));

    let rules = CorsConfiguration::builder()
        .cors_rules(
            CorsRule::builder()
                .allowed_origins(APP)
                .allowed_methods("GET")
                .allowed_methods("PUT")
                .allowed_methods("HEAD")
                .allowed_headers("*")
                .expose_headers("ETag")
                .max_age_seconds(3000)
                .build()
                .unwrap(),
        )
        .cors_rules(
            CorsRule::builder()
                .allowed_origins("*")
                .allowed_methods("GET")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    t.s3.put_bucket_cors()
        .bucket("player")
        .cors_configuration(rules)
        .send()
        .await
        .unwrap();
    let got =
        t.s3.get_bucket_cors()
            .bucket("player")
            .send()
            .await
            .unwrap();
    assert_eq!(got.cors_rules().len(), 2);
    assert_eq!(got.cors_rules()[0].expose_headers(), ["ETag"]);
    assert_eq!(got.cors_rules()[0].max_age_seconds(), Some(3000));

    // A browser's preflight for an upload: no signature, answered from the
    // first rule that allows origin, method and headers.
    let resp = preflight(&http, &url, APP, "PUT", "content-type, x-amz-date").await;
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], APP);
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["access-control-allow-methods"], "GET, PUT, HEAD");
    assert_eq!(
        h["access-control-allow-headers"],
        "content-type, x-amz-date"
    );
    assert_eq!(h["access-control-max-age"], "3000");
    assert!(h.get("x-amz-request-id").is_some());

    // Any origin may GET (second rule) but not PUT; an unknown bucket has
    // no configuration.
    let resp = preflight(&http, &url, "https://other.test", "GET", "").await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let resp = preflight(&http, &url, "https://other.test", "PUT", "").await;
    assert_eq!(resp.status().as_u16(), 403);
    assert!(resp.text().await.unwrap().contains("AccessForbidden"));
    let resp = preflight(
        &http,
        &format!("{endpoint}/no-such-bucket/x"),
        APP,
        "GET",
        "",
    )
    .await;
    assert_eq!(resp.status().as_u16(), 403);
    // Not a preflight at all.
    let resp = http
        .request(reqwest::Method::OPTIONS, &url)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    // Actual cross-origin requests get the allow headers, errors too.
    let resp = http.get(&url).header("origin", APP).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], APP);
    assert_eq!(resp.headers()["access-control-expose-headers"], "ETag");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"video bytes");
    let resp = http
        .get(format!("{endpoint}/player/missing"))
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(resp.headers()["access-control-allow-origin"], APP);
    let resp = http.get(&url).send().await.unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());

    // A configuration S3 would refuse is refused.
    let bad = CorsConfiguration::builder()
        .cors_rules(
            CorsRule::builder()
                .allowed_origins(APP)
                .allowed_methods("PATCH")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let e =
        t.s3.put_bucket_cors()
            .bucket("player")
            .cors_configuration(bad)
            .send()
            .await
            .unwrap_err();
    assert_eq!(code(e.into_service_error()), "InvalidRequest");

    // Deleted: gone, and preflights are refused again.
    t.s3.delete_bucket_cors()
        .bucket("player")
        .send()
        .await
        .unwrap();
    let e =
        t.s3.get_bucket_cors()
            .bucket("player")
            .send()
            .await
            .unwrap_err();
    assert_eq!(code(e.into_service_error()), "NoSuchCORSConfiguration");
    let resp = preflight(&http, &url, APP, "GET", "").await;
    assert_eq!(resp.status().as_u16(), 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn virtual_hosted_style_and_path_style_side_by_side() {
    let t = TestCluster::start_with(Options {
        edge_args: vec!["--virtual-host-domain".into(), "s3.tessera.test".into()],
        ..Options::default()
    })
    .await;
    t.s3.create_bucket().bucket("media").send().await.unwrap();
    let addr = t.cluster.spec().s3_addr;
    let http = reqwest::Client::builder()
        .resolve("media.s3.tessera.test", addr)
        .resolve("s3.tessera.test", addr)
        .build()
        .unwrap();
    let signer = Signer::for_tests();
    let send =
        |method: &'static str, host: &'static str, path: &'static str, body: &'static [u8]| {
            let headers = signer.sign(
                method,
                &format!("{host}:{}", addr.port()),
                path,
                time::OffsetDateTime::now_utc(),
                Dated::AmzDate,
            );
            let mut req = http
                .request(
                    method.parse().unwrap(),
                    format!("http://{host}:{}{path}", addr.port()),
                )
                .body(body);
            for (k, v) in headers {
                if k != "host" {
                    req = req.header(k, v);
                }
            }
            req.send()
        };

    // The bucket in the host name: write, read, list.
    let resp = send("PUT", "media.s3.tessera.test", "/clips/a.webm", b"by host")
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.text().await.unwrap()
    );
    let resp = send("GET", "media.s3.tessera.test", "/clips/a.webm", b"")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"by host");
    let resp = send("GET", "media.s3.tessera.test", "/", b"")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("<Key>clips/a.webm</Key>")
    );

    // The bare domain is path style, as is the address the SDK uses.
    let resp = send("GET", "s3.tessera.test", "/media/clips/a.webm", b"")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"by host");
    assert_eq!(get(&t.s3, "media", "clips/a.webm", None).await, b"by host");
}
