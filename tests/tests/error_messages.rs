//! Every variant of berth's error type, as a user reads it, with its exit code.
//! A change to any message shows up here in review.

use std::path::PathBuf;

use runtime_core::{Error, RuntimeKind};

fn io(kind: std::io::ErrorKind, text: &str) -> std::io::Error {
    std::io::Error::new(kind, text.to_owned())
}

fn all() -> Vec<Error> {
    vec![
        Error::ReadConfig {
            path: PathBuf::from("berth.toml"),
            source: io(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)"),
        },
        Error::Usage {
            message: "BERTH_RUNTIME: unknown runtime `podman`: expected docker, gvisor, apple or auto".to_owned(),
        },
        Error::DockerHostUnsupported {
            runtime: RuntimeKind::Apple,
            reason: "each Apple container is its own virtual machine".to_owned(),
            fix: "use --runtime docker".to_owned(),
        },
        Error::DockerHostNeedsHostUds {
            oci_runtime: "runsc".to_owned(),
            runtime_args: vec!["--network=host".to_owned()],
            fix: "set \"runtimeArgs\": [\"--network=host\", \"--host-uds=open\"]".to_owned(),
        },
        Error::DindUnsupported {
            runtime: RuntimeKind::Gvisor,
            reason: "an outer privileged container is not sandboxed by gVisor".to_owned(),
            fix: "use --runtime docker".to_owned(),
        },
        Error::SocketMissing {
            path: PathBuf::from("/var/run/docker.sock"),
            source_name: "default path".to_owned(),
            reason: "No such file or directory (os error 2)".to_owned(),
            fix: "start the Docker engine".to_owned(),
        },
        Error::SocketRemote {
            docker_host: "tcp://10.0.0.5:2376".to_owned(),
            fix: "run berth on the engine's host".to_owned(),
        },
        Error::SocketRootGroup {
            path: PathBuf::from("/var/run/docker.sock"),
            user: "1000".to_owned(),
            fix: "give the socket its own group".to_owned(),
        },
        Error::SocketNoGroupAccess {
            path: PathBuf::from("/var/run/docker.sock"),
            gid: 999,
            mode: 0o600,
            fix: "chmod g+rw /var/run/docker.sock".to_owned(),
        },
        Error::AllowlistUnsupported {
            runtime: RuntimeKind::Docker,
            fix: "use policy = \"none\"".to_owned(),
        },
        Error::LimitUnsupported {
            runtime: RuntimeKind::Apple,
            limit: "pids",
            fix: "remove resources.pids, or use --runtime docker".to_owned(),
        },
        Error::SecretMissing {
            name: "GITHUB_TOKEN".to_owned(),
            fix: "export GITHUB_TOKEN".to_owned(),
        },
        Error::Unavailable {
            runtime: RuntimeKind::Docker,
            reason: "the Docker engine is not running (no answer at /var/run/docker.sock)".to_owned(),
            fix: "start the Docker engine".to_owned(),
        },
        Error::Unsupported {
            runtime: RuntimeKind::Apple,
            operation: "attach",
            reason: "`container` cannot attach to a running container".to_owned(),
        },
        Error::PermissionDenied {
            path: PathBuf::from("/var/run/docker.sock"),
            fix: "join the socket's group `docker` (gid 999): sudo usermod -aG docker $USER, then log in again".to_owned(),
        },
        Error::ImageMissing {
            runtime: RuntimeKind::Docker,
            reference: "agent:latest".to_owned(),
            fix: "build it locally".to_owned(),
        },
        Error::Conflict {
            what: "container",
            name: "agent".to_owned(),
        },
        Error::NotFound {
            what: "sandbox",
            name: "agent".to_owned(),
        },
        Error::engine(
            RuntimeKind::Docker,
            "create container agent",
            io(std::io::ErrorKind::Other, "Docker responded with status code 500: boom"),
        ),
        Error::Io {
            operation: "read the env file",
            path: PathBuf::from(".env"),
            source: io(std::io::ErrorKind::PermissionDenied, "Permission denied (os error 13)"),
        },
        Error::Interrupted { signal: "SIGINT" },
    ]
}

#[test]
fn every_error_message() {
    let errors = all();
    let mut text = String::new();
    for err in &errors {
        text.push_str(&format!(
            "[{}] exit {}\n{}\n\n",
            err.kind(),
            err.exit_code(),
            err.report()
        ));
    }
    insta::with_settings!({ omit_expression => true }, {
        insta::assert_snapshot!("every_error_message", text);
    });
    // Exit codes are distinct per class, as the README's table says.
    let code = |kind: &str| {
        errors
            .iter()
            .find(|e| e.kind() == kind)
            .map(Error::exit_code)
    };
    assert_eq!(code("usage"), Some(2));
    assert_eq!(code("dind-unsupported"), Some(3));
    assert_eq!(code("unavailable"), Some(4));
    assert_eq!(code("permission-denied"), Some(5));
    assert_eq!(code("image-missing"), Some(6));
    assert_eq!(code("conflict"), Some(7));
    assert_eq!(code("not-found"), Some(8));
    assert_eq!(code("engine"), Some(125));
    assert_eq!(code("interrupted"), Some(130));
}
