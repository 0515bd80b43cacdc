//! Where the static `berth-helper` binary is, and whether it can run alone in an
//! empty image (or bind-mounted into any image): it runs the egress proxy and
//! berth-init.

use std::io::Read;
use std::path::PathBuf;

/// The environment variable naming the helper binary.
pub const HELPER_VAR: &str = "BERTH_HELPER";

/// How much of the binary the static check reads: the ELF header and the
/// program headers sit at its start.
const HEAD: u64 = 64 * 1024;

/// Where the helper binary is looked for: `$BERTH_HELPER` (given `var`), else
/// `berth-helper` next to the running program.
pub fn candidates(var: impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    if let Some(path) = var(HELPER_VAR).filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(path)];
    }
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|dir| dir.join("berth-helper")))
        .into_iter()
        .collect()
}

/// Why an executable cannot run alone in an empty image: not a 64-bit
/// little-endian ELF, or one that names a dynamic loader. Pure; `bytes` is the
/// file or at least its first 64 KiB.
pub fn static_problem(bytes: &[u8]) -> Option<&'static str> {
    const PT_INTERP: u32 = 3;
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01") {
        return Some("it is not a 64-bit little-endian ELF executable");
    }
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let (Some(phoff), Some(size), Some(count)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return Some("its ELF header is cut short");
    };
    let Ok(phoff) = usize::try_from(phoff) else {
        return Some("its ELF header is corrupt");
    };
    for i in 0..usize::from(count) {
        let at = phoff + i * usize::from(size);
        let Some(kind) = bytes.get(at..at + 4) else {
            return Some("its program headers are cut short");
        };
        if u32::from_le_bytes([kind[0], kind[1], kind[2], kind[3]]) == PT_INTERP {
            return Some(
                "it is dynamically linked, and the images it runs in may hold no libraries",
            );
        }
    }
    None
}

/// The helper binary to use, checked to be static (reading its head only), or
/// why there is none, in words for a person.
pub fn locate(var: impl Fn(&str) -> Option<String>) -> Result<PathBuf, String> {
    let candidates = candidates(var);
    for path in &candidates {
        let mut head = Vec::new();
        match std::fs::File::open(path).and_then(|f| f.take(HEAD).read_to_end(&mut head)) {
            Ok(_) => {
                return match static_problem(&head) {
                    Some(why) => Err(format!("{} cannot be used: {why}", path.display())),
                    None => Ok(path.clone()),
                };
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
    }
    let searched: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "berth-helper is not installed (looked at {})",
        if searched.is_empty() {
            format!("nothing: set {HELPER_VAR}")
        } else {
            searched.join(", ")
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_static_elf_can_be_the_helper() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        // Test binaries here are dynamically linked.
        assert_eq!(
            static_problem(&me),
            Some("it is dynamically linked, and the images it runs in may hold no libraries")
        );
        assert_eq!(
            static_problem(b"#!/bin/sh\n"),
            Some("it is not a 64-bit little-endian ELF executable")
        );
        assert_eq!(
            static_problem(b"\x7fELF\x02\x01\x01"),
            Some("its ELF header is cut short")
        );
        // An ELF header with no program headers names no loader.
        let mut header = vec![0u8; 64];
        header[..6].copy_from_slice(b"\x7fELF\x02\x01");
        assert_eq!(static_problem(&header), None);
    }

    #[test]
    fn the_variable_names_the_one_place_looked_at() {
        let var = |name: &str| (name == HELPER_VAR).then(|| "/nowhere/berth-helper".to_owned());
        assert_eq!(
            candidates(var),
            vec![PathBuf::from("/nowhere/berth-helper")]
        );
        let err = locate(var).unwrap_err();
        assert_eq!(
            err,
            "berth-helper is not installed (looked at /nowhere/berth-helper)"
        );
        let me = std::env::current_exe().unwrap();
        let var = |name: &str| (name == HELPER_VAR).then(|| me.display().to_string());
        assert!(locate(var).unwrap_err().contains("dynamically linked"));
    }
}
