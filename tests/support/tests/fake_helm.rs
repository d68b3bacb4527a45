//! The fake helm answers `version` as Helm 3 does. Being an integration
//! test of this package, it also makes `cargo test --workspace` (and
//! nextest) build the `fake-helm` binary in the same build, with the same
//! features, as every other test: the suite needs no build of its own for it.

#[test]
fn fake_helm_answers_version_like_helm_3() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fake-helm"))
        .arg("version")
        .env("FAKE_HELM_DIR", dir.path())
        .output()
        .expect("run fake-helm");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("v3."), "{stdout}");
}
