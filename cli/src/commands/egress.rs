//! `berth egress`: the decisions of a run's egress proxy, read from its audit log.
//! Each line is parsed into an audit record before it is shown; a line that is
//! not one is counted and reported, never echoed.

use futures::StreamExt;
use runtime_core::egress::{AuditRecord, Verdict};
use runtime_core::{Error, LogOptions, Output};

use crate::commands::run_of;
use crate::{EgressArgs, Format, backends};

pub async fn execute(args: EgressArgs) -> Result<u8, Error> {
    let (runtime, info) = backends::locate(args.runtime, &args.run).await?;
    let run_id = run_of(&info, &args.run)?;
    let options = LogOptions {
        follow: args.follow,
        tail: None,
    };
    let mut stream = runtime.egress_log(run_id, &options).await?;
    if args.format == Format::Human {
        crate::outln!("{}", header());
    }
    let mut pending: Vec<u8> = Vec::new();
    let mut unreadable = 0usize;
    let mut show = |line: &[u8]| {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match serde_json::from_slice::<AuditRecord>(line) {
            Ok(record) => match args.format {
                Format::Human => crate::outln!("{}", row(&record)),
                Format::Json => {
                    crate::outln!("{}", serde_json::to_string(&record).unwrap_or_default());
                }
            },
            Err(_) => unreadable += 1,
        }
    };
    while let Some(chunk) = stream.next().await {
        // The proxy's own messages go to stderr; decisions only to stdout.
        let Output::Stdout(bytes) = chunk? else {
            continue;
        };
        pending.extend_from_slice(&bytes);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            show(&line);
        }
    }
    show(&pending);
    if unreadable > 0 {
        eprintln!(
            "berth: {unreadable} line(s) of the audit log were not decisions and were skipped"
        );
    }
    Ok(0)
}

fn header() -> String {
    format!(
        "{:<8}  {:<7}  {:<7}  {:<32}  {:<24}  {:>9}  {:>9}",
        "TIME", "VERDICT", "METHOD", "TARGET", "RULE OR REASON", "UP", "DOWN"
    )
}

/// Text from the audit log as the terminal shows it: control characters (an
/// agent's SNI or method could carry escape sequences) are written escaped.
fn safe(text: &str) -> String {
    text.chars()
        .flat_map(char::escape_debug)
        .collect::<String>()
}

/// One decision as a table row: the time of day (UTC), verdict, method, target,
/// and the rule that allowed it or the reason it was denied (or why it failed).
fn row(r: &AuditRecord) -> String {
    let time = safe(r.time.get(11..19).unwrap_or(&r.time));
    let target = match &r.sni {
        Some(sni) if sni != &r.host => {
            format!("{}:{} (sni {})", safe(&r.host), r.port, safe(sni))
        }
        _ => format!("{}:{}", safe(&r.host), r.port),
    };
    let why = match (r.decision, &r.error) {
        (Verdict::Allowed, Some(error)) => format!(
            "{} (failed: {})",
            safe(r.rule.as_deref().unwrap_or("")),
            safe(error)
        ),
        (Verdict::Allowed, None) => safe(r.rule.as_deref().unwrap_or_default()),
        (Verdict::Denied, _) => safe(r.reason.as_deref().unwrap_or_default()),
    };
    format!(
        "{time:<8}  {:<7}  {:<7}  {target:<32}  {why:<24}  {:>9}  {:>9}",
        r.decision.to_string(),
        safe(&r.method),
        r.bytes_up,
        r.bytes_down
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_reads_as_one_row() {
        let denied: AuditRecord = serde_json::from_str(
            r#"{"time":"2026-12-03T06:19:21.2Z","client":"10.0.0.2:5","method":"CONNECT","host":"evil.test","port":443,"sni":"other.test","decision":"denied","reason":"sni-mismatch","bytes_up":0,"bytes_down":0}"#,
        )
        .unwrap();
        let escaped: AuditRecord = serde_json::from_str(
            r#"{"time":"t","client":"c","method":"GET\u001b[2J","host":"h","port":80,"decision":"denied","reason":"not-allowed","bytes_up":0,"bytes_down":0}"#,
        )
        .unwrap();
        assert!(row(&escaped).contains("GET\\u{1b}[2J"), "{}", row(&escaped));
        insta::assert_snapshot!(format!("{}\n{}", header(), row(&denied)), @r"
        TIME      VERDICT  METHOD   TARGET                            RULE OR REASON                   UP       DOWN
        06:19:21  denied   CONNECT  evil.test:443 (sni other.test)    sni-mismatch                      0          0
        ");
    }
}
