//! `CLICKHOUSE_URL=https://…` against a real ClickHouse served over TLS (issue 16): a private
//! server with an `https_port` and a certificate this test makes with the openssl command-line
//! tool (a throwaway CA and a server certificate for 127.0.0.1 signed by it).

use std::path::Path;
use std::process::Command;

use sendops_shared::store::Store;
use sendops_shared::store::config::ClickHouseConfig;
use sendops_testkit::clickhouse::{PrivateClickHouse, free_port};
use sendops_testkit::process::assert_success;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (Debian's openssl package) runs");
    assert_success(&out);
}

/// A CA named `name` in `dir` (`name.pem`, `name.key`).
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// `server.pem`/`server.key` for 127.0.0.1, signed by the CA `ca`.
fn make_server_cert(dir: &Path, ca: &str) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

#[tokio::test]
async fn https_with_the_right_ca_works_and_a_wrong_ca_fails_clearly() {
    let certs = tempfile::tempdir().unwrap();
    make_ca(certs.path(), "test-ca");
    make_ca(certs.path(), "other-ca");
    make_server_cert(certs.path(), "test-ca");
    let https_port = free_port().unwrap();
    let dir = certs.path().display();
    let ch = PrivateClickHouse::start_with(&format!(
        "<https_port>{https_port}</https_port>
         <openSSL><server>
           <certificateFile>{dir}/server.pem</certificateFile>
           <privateKeyFile>{dir}/server.key</privateKeyFile>
           <verificationMode>none</verificationMode>
           <loadDefaultCAFile>false</loadDefaultCAFile>
           <cacheSessions>true</cacheSessions>
           <disableProtocols>sslv2,sslv3</disableProtocols>
           <preferServerCiphers>true</preferServerCiphers>
         </server></openSSL>"
    ))
    .await
    .expect("ClickHouse with an https_port starts");
    // The HTTPS listener comes up with the server; give it a moment if it is slower.
    let url = format!("https://127.0.0.1:{https_port}");
    let cfg = |ca: &str| ClickHouseConfig {
        url: url.clone(),
        database: "default".into(),
        user: None,
        password: None,
        ca_file: Some(certs.path().join(ca)),
        cluster: None,
        nodes: Vec::new(),
    };

    let store = Store::connect(&cfg("test-ca.pem")).expect("a usable TLS config");
    let mut version = None;
    for _ in 0..50 {
        match store.server_version().await {
            Ok(v) => {
                version = Some(v);
                break;
            }
            Err(e) if e.to_string().contains("onnection refused") => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("HTTPS with the right CA failed: {e}"),
        }
    }
    let version = version.expect("the HTTPS port answers");
    assert!(version.starts_with(char::is_numeric), "{version}");
    let one = store
        .client()
        .query("SELECT toUInt8(1)")
        .fetch_one::<u8>()
        .await
        .unwrap();
    assert_eq!(one, 1);

    // A CA that did not sign the server's certificate: refused, and the error says why.
    let wrong = Store::connect(&cfg("other-ca.pem")).expect("a usable TLS config");
    let err = wrong.server_version().await.unwrap_err().to_string();
    assert!(
        err.to_lowercase().contains("certificate"),
        "the error names the certificate problem: {err}"
    );
    // Plain HTTP on the same server still works (the TLS client is only used for https://).
    let plain = Store::connect(&ClickHouseConfig {
        url: ch.url(),
        database: "default".into(),
        ..ClickHouseConfig::default()
    })
    .unwrap();
    assert!(plain.server_version().await.is_ok());
}
