//! `ensure_image` through the double: a present reference is checked with
//! `container image inspect` (never pulled), a missing one is `ImageMissing` with
//! how to get it, and a build streams its output lines to the progress callback.

mod support;

use std::sync::Mutex;

use runtime_core::plan::ImageSource;
use runtime_core::{Error, Runtime};
use support::{Fixture, IMAGE, docker, output, within};

#[tokio::test]
async fn a_present_image_is_found_and_a_missing_one_says_how_to_get_it() {
    let fx = Fixture::new("1", &[]);
    let progress = |_: &str| {};
    let present = ImageSource::Reference {
        reference: IMAGE.to_owned(),
    };
    within("inspect", fx.runtime.ensure_image(&present, &progress))
        .await
        .expect("present");
    let missing = ImageSource::Reference {
        reference: "berth-test/never-built:latest".to_owned(),
    };
    match within("inspect", fx.runtime.ensure_image(&missing, &progress)).await {
        Err(Error::ImageMissing { reference, fix, .. }) => {
            assert_eq!(reference, "berth-test/never-built:latest");
            assert!(fix.contains("container image pull"), "{fix}");
        }
        other => panic!("expected ImageMissing, got {other:?}"),
    }
}

/// Removes a Docker image when dropped.
struct ImageGuard(String);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        output(docker().args(["image", "rm", "-f", &self.0]));
    }
}

#[tokio::test]
async fn a_build_streams_its_progress() {
    let fx = Fixture::new("1", &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let dockerfile = dir.path().join("Dockerfile.agent");
    std::fs::write(
        &dockerfile,
        format!("FROM {IMAGE}\nARG GREETING\nRUN echo \"$GREETING\" > /greeting\n"),
    )
    .expect("write Dockerfile");
    let tag = format!("berth-test/apple-build-{}:latest", fx.run_id);
    let _guard = ImageGuard(tag.clone());
    let image = ImageSource::Build {
        declared_dockerfile: None,
        declared_context: None,
        dockerfile,
        context: dir.path().to_owned(),
        tag: tag.clone(),
        args: [("GREETING".to_owned(), "hello from the build".to_owned())].into(),
    };
    let lines = Mutex::new(Vec::<String>::new());
    let progress = |line: &str| {
        if let Ok(mut lines) = lines.lock() {
            lines.push(line.to_owned());
        }
    };
    within("build", fx.runtime.ensure_image(&image, &progress))
        .await
        .unwrap_or_else(|e| panic!("build: {}", e.report()));
    let seen = lines.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(seen.iter().any(|l| l.contains("Step")), "{seen:?}");
    let built = output(docker().args(["image", "inspect", &tag]));
    assert!(built.status.success(), "{tag} exists after the build");
    let broken = ImageSource::Build {
        declared_dockerfile: None,
        declared_context: None,
        dockerfile: dir.path().join("Dockerfile.missing"),
        context: dir.path().to_owned(),
        tag: format!("{tag}-broken"),
        args: Default::default(),
    };
    let failed = within("build", fx.runtime.ensure_image(&broken, &progress)).await;
    assert!(matches!(failed, Err(Error::Engine { .. })), "{failed:?}");
}
