//! Making the image present: a reference must exist locally (berth never pulls
//! implicitly); a build packs the context and streams the engine's output.

use std::collections::HashMap;
use std::path::Path;

use bollard::Docker;
use bollard::query_parameters::BuildImageOptionsBuilder;
use bytes::Bytes;
use futures::StreamExt;
use runtime_core::plan::ImageSource;
use runtime_core::runtime::Progress;

use crate::engine::DockerError;

/// Whether an image reference is present locally.
pub async fn present(docker: &Docker, reference: &str) -> Result<bool, DockerError> {
    match docker.inspect_image(reference).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(source) => Err(DockerError::api(
            format!("inspect image {reference}"),
            "image",
            reference,
            source,
        )),
    }
}

/// Builds `Build` sources; returns false for a `Reference` that is missing.
pub async fn ensure(
    docker: &Docker,
    image: &ImageSource,
    progress: Progress<'_>,
) -> Result<bool, DockerError> {
    match image {
        ImageSource::Reference { reference } => present(docker, reference).await,
        ImageSource::Build {
            dockerfile,
            context,
            tag,
            args,
        } => {
            build(docker, dockerfile, context, tag, args, progress).await?;
            Ok(true)
        }
    }
}

async fn build(
    docker: &Docker,
    dockerfile: &Path,
    context: &Path,
    tag: &str,
    args: &std::collections::BTreeMap<String, String>,
    progress: Progress<'_>,
) -> Result<(), DockerError> {
    progress(&format!("building {tag} from {}", dockerfile.display()));
    let context_dir = context.to_owned();
    let archive = tokio::task::spawn_blocking(move || pack(&context_dir))
        .await
        .map_err(|e| DockerError::Context {
            path: context.to_owned(),
            source: std::io::Error::other(e),
        })??;
    // The Dockerfile path is relative to the context inside the archive.
    let in_context = dockerfile
        .strip_prefix(context)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "Dockerfile".to_owned());
    let build_args: HashMap<String, String> = args.clone().into_iter().collect();
    let options = BuildImageOptionsBuilder::default()
        .dockerfile(&in_context)
        .t(tag)
        .rm(true)
        .forcerm(true)
        .buildargs(&build_args)
        .build();
    let mut stream = docker.build_image(
        options,
        None,
        Some(bollard::body_full(Bytes::from(archive))),
    );
    while let Some(item) = stream.next().await {
        let info =
            item.map_err(|source| DockerError::api(format!("build {tag}"), "image", tag, source))?;
        if let Some(detail) = info.error_detail {
            return Err(DockerError::Build {
                tag: tag.to_owned(),
                message: detail.message.unwrap_or_else(|| "unknown error".to_owned()),
            });
        }
        if let Some(line) = info.stream {
            for l in line.lines().filter(|l| !l.trim().is_empty()) {
                progress(l);
            }
        }
    }
    Ok(())
}

/// Packs `dir` into a tar archive, following no symlinks out of it.
fn pack(dir: &Path) -> Result<Vec<u8>, DockerError> {
    let err = |source| DockerError::Context {
        path: dir.to_owned(),
        source,
    };
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", dir).map_err(err)?;
    builder.into_inner().map_err(err)
}
