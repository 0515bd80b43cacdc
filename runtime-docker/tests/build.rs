//! `ensure_image` building from a Dockerfile: the context (minus `.dockerignore`)
//! reaches the engine, build args apply, output arrives line by line, and a failed
//! build is an error that carries its last lines.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use common::{RunGuard, collect, direct, engine, plan, run_id, spec};
use runtime_core::plan::ImageSource;
use runtime_core::{Error, Runtime, RuntimeKind};

/// Removes a built image when dropped.
struct ImageGuard(String);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let tag = self.0.clone();
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(direct::remove_image(&tag));
        })
        .join();
    }
}

fn busybox_context(dir: &Path, dockerfile: &str) {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox on the host");
    std::fs::copy(busybox, dir.join("busybox")).expect("copy busybox");
    std::fs::write(dir.join("Dockerfile"), dockerfile).expect("Dockerfile");
}

#[tokio::test]
async fn builds_the_context_with_args_and_honours_dockerignore() {
    let docker = engine().await;
    let dir = tempfile::tempdir().expect("tempdir");
    busybox_context(
        dir.path(),
        "FROM scratch\nCOPY . /ctx/\nARG FLAVOUR=plain\nRUN [\"/ctx/busybox\", \"sh\", \"-c\", \"echo $FLAVOUR > /ctx/flavour\"]\n",
    );
    std::fs::create_dir_all(dir.path().join("target/debug")).expect("mkdir");
    std::fs::write(dir.path().join("target/debug/huge"), "x").expect("write");
    std::fs::write(dir.path().join("secret.env"), "TOKEN=x").expect("write");
    std::fs::write(dir.path().join(".dockerignore"), "target\n*.env\n").expect("write");
    let run = run_id();
    let tag = format!("berth-dt-build/{run}:latest");
    let _image = ImageGuard(tag.clone());
    let lines = Mutex::new(Vec::<String>::new());
    let source = ImageSource::Build {
        declared_dockerfile: None,
        declared_context: None,
        dockerfile: dir.path().join("Dockerfile"),
        context: dir.path().to_owned(),
        tag: tag.clone(),
        args: BTreeMap::from([("FLAVOUR".to_owned(), "spicy".to_owned())]),
    };
    docker
        .ensure_image(&source, &|line: &str| {
            lines.lock().expect("lock").push(line.to_owned());
        })
        .await
        .expect("build");
    let lines = lines.into_inner().expect("lock");
    use runtime_core::progress::BuildNote;
    assert_eq!(
        lines.first().and_then(|l| BuildNote::parse(l)),
        Some(BuildNote::Started { tag: tag.clone() }),
        "{lines:?}"
    );
    assert!(
        matches!(
            lines.last().and_then(|l| BuildNote::parse(l)),
            Some(BuildNote::Finished { total: 4, .. })
        ),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| !l.contains('\n')), "{lines:?}");

    let _guard = RunGuard::new(&run);
    let mut plan = plan(RuntimeKind::Docker, &tag);
    plan.image = source;
    let id = docker
        .create(&spec(
            &plan,
            &run,
            &[
                "/ctx/busybox",
                "sh",
                "-c",
                "cat /ctx/flavour; /ctx/busybox ls -a /ctx",
            ],
        ))
        .await
        .expect("create");
    let session = docker.attach(&id, false).await.expect("attach");
    docker.start(&id).await.expect("start");
    let out = collect(session).await;
    let text = out.out();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("spicy"));
    let listed: Vec<&str> = lines.collect();
    assert!(listed.contains(&"Dockerfile"), "{listed:?}");
    assert!(listed.contains(&".dockerignore"), "{listed:?}");
    assert!(!listed.contains(&"target"), "{listed:?}");
    assert!(!listed.contains(&"secret.env"), "{listed:?}");
}

#[tokio::test]
async fn a_failed_build_is_an_error_with_its_last_lines() {
    let docker = engine().await;
    let dir = tempfile::tempdir().expect("tempdir");
    busybox_context(
        dir.path(),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo about to fail; exit 3\"]\n",
    );
    let tag = format!("berth-dt-build/{}:broken", run_id());
    let _image = ImageGuard(tag.clone());
    let source = ImageSource::Build {
        declared_dockerfile: None,
        declared_context: None,
        dockerfile: dir.path().join("Dockerfile"),
        context: dir.path().to_owned(),
        tag: tag.clone(),
        args: BTreeMap::new(),
    };
    let err = docker
        .ensure_image(&source, &|_| {})
        .await
        .expect_err("the build fails");
    assert!(
        matches!(err, Error::Engine { .. }),
        "expected an engine error, got {err:?}"
    );
    let report = err.report();
    assert!(
        report.contains(&format!("failed to build {tag}")),
        "{report}"
    );
    assert!(report.contains("non-zero code: 3"), "{report}");
    assert!(report.contains("last build output:"), "{report}");
    assert!(
        report.lines().any(|l| l.trim() == "about to fail"),
        "{report}"
    );
}

#[tokio::test]
async fn a_dockerfile_outside_the_context_is_refused_before_anything_is_sent() {
    let docker = engine().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let context = dir.path().join("ctx");
    std::fs::create_dir_all(&context).expect("mkdir");
    std::fs::write(context.join("data.txt"), "inside\n").expect("write");
    let dockerfile = dir.path().join("elsewhere.Dockerfile");
    std::fs::write(&dockerfile, "FROM scratch\nCOPY data.txt /data.txt\n").expect("write");
    let tag = format!("berth-dt-build/{}:outside", run_id());
    let _image = ImageGuard(tag.clone());
    let source = ImageSource::Build {
        declared_dockerfile: None,
        declared_context: None,
        dockerfile,
        context,
        tag,
        args: BTreeMap::new(),
    };
    let err = docker
        .ensure_image(&source, &|_| {})
        .await
        .expect_err("an outside Dockerfile is refused");
    assert!(
        matches!(err, runtime_core::Error::DockerfileOutsideContext { .. }),
        "{err:?}"
    );
}
