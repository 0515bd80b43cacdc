//! Interactive use, as a person at a terminal has it, driven through tmux
//! ([`berth_tests::tmux::Pane`]): a shell in the sandbox under `run -it`,
//! `exec -it` and `attach`.
//! - the sandbox's `stty size` is the pane's at start and follows `resize-window`;
//! - Ctrl-C interrupts a `sleep` in the sandbox's shell and berth carries on;
//!   Ctrl-D ends the shell and berth exits with its code;
//! - the detach keys (ctrl-p ctrl-q, or `--detach-keys`) leave the run running,
//!   and `berth attach` joins it again, with a SIGWINCH every time so that a
//!   full-screen program redraws;
//! - closing the terminal (SIGHUP) tears a `--rm` run down, SIGTERM to berth
//!   does too, and a run killed from outside ends berth with its code;
//! - berth's terminal settings are as before (`stty -g` compares equal) after
//!   every one of these ends;
//! - under gVisor the shell's stdin is a terminal of the pane's size, and no NUL
//!   byte reaches the pane.

use std::time::{Duration, Instant};

use berth_tests::tmux::Pane;
use berth_tests::{Scratch, describe, ps_entry, require_engine, run};

const IMAGE: &str = "berth-test/busybox:latest";

/// The prompt of the sandbox's shell (the host's is `host$ `).
const PROMPT: &str = "sbx> ";

/// A scratch area whose berth.toml runs busybox's shell with [`PROMPT`].
fn shell_config(tag: &str) -> (Scratch, String) {
    shell_config_with(tag, "")
}

/// [`shell_config`] with more `[sandbox]` keys.
fn shell_config_with(tag: &str, sandbox: &str) -> (Scratch, String) {
    let s = Scratch::new(tag);
    let config = s.write_config(
        "berth.toml",
        &format!("image = \"{IMAGE}\"\ncommand = [\"sh\"]\n{sandbox}[env]\nPS1 = \"{PROMPT}\"\n"),
    );
    let config = config.display().to_string();
    (s, config)
}

/// Saves the pane's terminal settings, to compare with [`assert_terminal_restored`].
fn save_terminal(pane: &Pane, s: &Scratch) {
    pane.type_line(&format!("stty -g > {}/stty-before", s.dir().display()));
}

/// The pane's terminal settings are what [`save_terminal`] saved: raw mode is gone.
fn assert_terminal_restored(pane: &Pane, s: &Scratch, marker: u32) {
    pane.type_line(&format!(
        "stty -g | cmp -s - {}/stty-before && echo \"sane-$(({marker}+1))\" || echo \"not sane-$(({marker}+1))\"; stty -a | head -n 4",
        s.dir().display()
    ));
    let screen = pane.wait_for(&format!("sane-{}", marker + 1));
    assert!(
        !screen.contains(&format!("not sane-{}", marker + 1)),
        "the terminal was left changed:\n{screen}"
    );
}

/// Ctrl-C ends a `sleep` the sandbox's shell runs, and the shell (so berth)
/// carries on. The key is pressed once `sleep` runs, which `berth exec` checks.
fn interrupt_a_sleep(pane: &Pane, s: &Scratch) {
    pane.type_line("sleep 600");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = run(s.berth().args(["exec", s.name(), "pidof", "sleep"]));
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sleep did not start: {}\n{}",
            describe(&out),
            pane.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    pane.keys(&["C-c"]);
    pane.type_line("echo \"after-$((40+2))\"");
    pane.wait_for("after-42");
}

/// Ctrl-D, typed at the prompt of the sandbox's shell after a command that
/// exited with `code`, ends the shell, which exits with that code; so does the
/// `berth run` the pane's shell echoes `exit=$?` after.
fn ctrl_d_ends_the_shell_with(pane: &Pane, code: u8) {
    let prompts = pane.count(PROMPT);
    pane.type_line(&format!("(exit {code})"));
    pane.wait_for_more(PROMPT, prompts);
    pane.keys(&["C-d"]);
    pane.wait_for(&format!("exit={code}"));
}

#[test]
fn run_it_follows_the_pane_passes_ctrl_c_and_ctrl_d_and_restores_the_terminal() {
    require_engine();
    let (s, config) = shell_config("tty-run");
    let pane = Pane::start(&s, 100, 30);
    save_terminal(&pane, &s);
    pane.type_line(&format!(
        "berth run --rm -it --runtime docker --name {} -f {config}; echo \"exit=$?\"",
        s.name()
    ));
    pane.wait_for(PROMPT);
    pane.retype_until("stty size", "30 100");
    pane.resize(72, 20);
    pane.retype_until("stty size", "20 72");

    interrupt_a_sleep(&pane, &s);

    ctrl_d_ends_the_shell_with(&pane, 7);
    assert_terminal_restored(&pane, &s, 10);
    s.assert_clean();
}

/// Starts a detached run of `config` whose main process idles, and a pane.
fn idle_run(s: &Scratch, config: &str) -> Pane {
    let out = run(s
        .berth()
        .args(["run", "-d", "--runtime", "docker", "--name", s.name(), "-f"])
        .arg(config)
        .args(["--", "tail", "-f", "/dev/null"]));
    assert!(out.status.success(), "run -d: {}", describe(&out));
    let pane = Pane::start(s, 90, 25);
    save_terminal(&pane, s);
    pane
}

/// Starts `berth exec -it RUN sh` in the pane and waits for the shell's prompt.
fn exec_shell(pane: &Pane, s: &Scratch) {
    let prompts = pane.count(PROMPT);
    pane.type_line(&format!("berth exec -it {} sh; echo \"exec=$?\"", s.name()));
    pane.wait_for_more(PROMPT, prompts);
}

/// `berth exec -it RUN sh` in a pane of [`idle_run`]: the shell's `stty size`
/// is the pane's and follows it, Ctrl-C interrupts a sleep, `exit 6` ends berth
/// with 6, and the pane's terminal is as before (`marker` as for
/// [`assert_terminal_restored`]).
fn exec_shell_follows_the_pane_and_exits(pane: &Pane, s: &Scratch, marker: u32) {
    exec_shell(pane, s);
    pane.retype_until("stty size", "25 90");
    pane.resize(64, 18);
    pane.retype_until("stty size", "18 64");
    interrupt_a_sleep(pane, s);
    pane.type_line("exit 6");
    pane.wait_for("exec=6");
    assert_terminal_restored(pane, s, marker);
    pane.resize(90, 25);
}

#[test]
fn exec_it_follows_the_pane_and_exits_with_the_shells_code() {
    require_engine();
    // Through berth-init, the default exec path.
    let (s, config) = shell_config("tty-exec");
    let pane = idle_run(&s, &config);
    exec_shell_follows_the_pane_and_exits(&pane, &s, 20);

    // berth-init hangs up what an exec started when its client leaves, so the
    // detach keys go to the shell (its line editor takes ctrl-p for the
    // previous line, which ctrl-c drops).
    exec_shell(&pane, &s);
    pane.retype_until("echo \"in-$((5+5))\"", "in-10");
    pane.keys(&["C-p", "C-q", "C-c"]);
    pane.retype_until("echo \"still-$((6+6))\"", "still-12");
    assert!(!pane.screen().contains("detached"), "{}", pane.screen());
    pane.type_line("exit 5");
    pane.wait_for("exec=5");
    assert_terminal_restored(&pane, &s, 30);
}

#[test]
fn exec_it_through_the_engine_follows_the_pane_and_the_detach_keys_leave_it() {
    require_engine();
    let (s, config) = shell_config_with("tty-exec-engine", "init = false\n");
    let pane = idle_run(&s, &config);
    exec_shell_follows_the_pane_and_exits(&pane, &s, 100);

    // The detach keys leave the exec's shell running, and berth exits 0.
    exec_shell(&pane, &s);
    pane.retype_until("echo \"in-$((5+5))\"", "in-10");
    pane.keys(&["C-p", "C-q"]);
    pane.wait_for("exec=0");
    assert!(
        pane.screen().contains("the command keeps running"),
        "{}",
        pane.screen()
    );
    assert_terminal_restored(&pane, &s, 110);
}

#[test]
fn attach_joins_a_detached_run_and_the_detach_keys_leave_it_running() {
    require_engine();
    let (s, config) = shell_config("tty-attach");
    let out = run(s
        .berth()
        .args([
            "run",
            "-d",
            "-it",
            "--runtime",
            "docker",
            "--name",
            s.name(),
            "-f",
        ])
        .arg(&config));
    assert!(out.status.success(), "run -d -it: {}", describe(&out));
    let pane = Pane::start(&s, 96, 28);
    save_terminal(&pane, &s);
    pane.type_line(&format!("berth attach {}; echo \"attach=$?\"", s.name()));
    pane.retype_until("echo \"first-$((1+2))\"", "first-3");
    pane.retype_until("stty size", "28 96");
    pane.keys(&["C-p", "C-q"]);
    pane.wait_for("attach=0");
    assert!(
        pane.screen()
            .contains(&format!("detached from {}", s.name())),
        "{}",
        pane.screen()
    );
    assert_terminal_restored(&pane, &s, 40);
    let ps = run(s.berth().args(["ps", "--format", "json"]));
    assert_eq!(ps_entry(&ps, s.name())["state"], "running");

    // Again, with keys of one's own: ctrl-p ctrl-q now go to the shell (its
    // line editor takes ctrl-p for the previous line, which ctrl-c drops).
    let detaches = pane.count("detached from");
    pane.type_line(&format!(
        "berth attach --detach-keys ctrl-x,x {}; echo \"attach=$?\"",
        s.name()
    ));
    pane.retype_until("echo \"second-$((2+2))\"", "second-4");
    pane.keys(&["C-p", "C-q", "C-c"]);
    pane.retype_until("echo \"still-$((3+4))\"", "still-7");
    assert_eq!(pane.count("detached from"), detaches, "{}", pane.screen());
    pane.resize(80, 24);
    pane.retype_until("stty size", "24 80");
    pane.keys(&["C-x", "x"]);
    pane.wait_for_more("detached from", detaches);
    assert_terminal_restored(&pane, &s, 50);

    // Once more; the shell's exit ends the run, and attach exits with its code.
    pane.type_line(&format!("berth attach {}; echo \"attach=$?\"", s.name()));
    pane.retype_until("echo \"third-$((3+3))\"", "third-6");
    pane.type_line("exit 4");
    pane.wait_for("attach=4");
    assert_terminal_restored(&pane, &s, 60);
    let ps = run(s.berth().args(["ps", "--all", "--format", "json"]));
    assert_eq!(ps_entry(&ps, s.name())["state"], "exited");
}

#[test]
fn a_signal_to_berth_or_the_run_killed_from_outside_restores_the_terminal() {
    require_engine();
    let (s, config) = shell_config("tty-ends");
    let pane = Pane::start(&s, 80, 24);
    save_terminal(&pane, &s);

    // SIGTERM to berth: the run is removed, berth exits 143.
    pane.type_line(&format!(
        "berth run --rm -it --runtime docker --name {} -f {config}; echo \"exit=$?\"",
        s.name()
    ));
    pane.wait_for(PROMPT);
    let children = pane.shell_children();
    let [berth] = children.as_slice() else {
        panic!("the pane's shell runs {children:?}, not berth alone");
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(*berth),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal berth");
    pane.wait_for("exit=143");
    assert_terminal_restored(&pane, &s, 80);
    s.assert_clean();

    // The container killed under berth: berth exits with its code.
    let prompts = pane.count(PROMPT);
    pane.type_line(&format!(
        "berth run -it --runtime docker --name {} -f {config}; echo \"exit=$?\"",
        s.name()
    ));
    pane.wait_for_more(PROMPT, prompts);
    let out = run(berth_tests::docker().args(["kill", s.name()]));
    assert!(out.status.success(), "docker kill: {}", describe(&out));
    pane.wait_for("exit=137");
    assert_terminal_restored(&pane, &s, 90);
}

#[test]
fn each_attach_makes_a_full_screen_program_redraw() {
    require_engine();
    let s = Scratch::new("tty-redraw");
    // A stand-in for an agent's TUI: it says when its window changes.
    let config = s.write_config(
        "berth.toml",
        &format!(
            "image = \"{IMAGE}\"\n\
             command = [\"sh\", \"-c\", \"trap 'echo redraw-$((1+1))' WINCH; while :; do sleep 0.1; done\"]\n"
        ),
    );
    let out = run(s
        .berth()
        .args([
            "run",
            "-d",
            "-it",
            "--runtime",
            "docker",
            "--name",
            s.name(),
            "-f",
        ])
        .arg(&config));
    assert!(out.status.success(), "run -d -it: {}", describe(&out));
    let pane = Pane::start(&s, 90, 26);
    for _ in 0..2 {
        let redraws = pane.count("redraw-2");
        let detaches = pane.count("detached from");
        pane.type_line(&format!("berth attach {}", s.name()));
        pane.wait_for_more("redraw-2", redraws);
        pane.wait_for_raw();
        pane.keys(&["C-p", "C-q"]);
        pane.wait_for_more("detached from", detaches);
    }
}

#[test]
fn closing_the_terminal_tears_down_a_rm_run() {
    require_engine();
    let (s, config) = shell_config("tty-hangup");
    let pane = Pane::start(&s, 80, 24);
    pane.type_line(&format!(
        "berth run --rm -it --runtime docker --name {} -f {config}",
        s.name()
    ));
    pane.wait_for(PROMPT);
    pane.close();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (containers, networks, volumes) =
            berth_tests::leftovers(&format!("berth.sandbox={}", s.name()));
        if containers.is_empty() && networks.is_empty() && volumes.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run outlived its terminal: containers {containers:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(s.records(), 0, "its record went with it");
}

#[test]
fn gvisor_run_it_gives_a_terminal_of_the_panes_size_and_no_stray_bytes() {
    require_engine();
    let (s, config) = shell_config("tty-gvisor");
    let pane = Pane::start(&s, 100, 30);
    let log = s.dir().join("pane.log");
    save_terminal(&pane, &s);
    pane.log_to(&log);
    pane.type_line(&format!(
        "berth run --rm -it --runtime gvisor --name {} -f {config}; echo \"exit=$?\"",
        s.name()
    ));
    pane.wait_for(PROMPT);
    pane.type_line("[ -t 0 ] && echo \"isatty-$((1+1))\"");
    pane.wait_for("isatty-2");
    pane.retype_until("stty size", "30 100");
    pane.resize(70, 20);
    pane.retype_until("stty size", "20 70");
    ctrl_d_ends_the_shell_with(&pane, 3);
    assert_terminal_restored(&pane, &s, 70);
    let bytes = std::fs::read(&log).expect("the pane's log");
    assert!(!bytes.is_empty(), "pipe-pane logged nothing");
    assert!(
        !bytes.contains(&0),
        "a NUL byte reached the terminal: {:?}",
        String::from_utf8_lossy(&bytes)
    );
    s.assert_clean();
}
