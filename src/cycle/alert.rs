//! The alert command of `landcycle nrt` (`nrt:alert_command`): after an invocation, when
//! the status level has changed to WARNING or CRITICAL, the command gets the status JSON
//! (as `landcycle status --json` prints it) on stdin.
//!
//! Monitoring never delays production for long: the command runs after the cycles, its
//! failure is only logged, and it is killed after [`ALERT_TIMEOUT`].

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::cycle_record::append_event;
use super::nrt::stamp;
use super::nrt_status::{status, Level, Thresholds};
use super::rundir::RunDir;

/// Longest time an alert command may run.
pub const ALERT_TIMEOUT: Duration = Duration::from_secs(60);

/// The level now; runs `command` when it differs from `previous` and is WARNING or
/// CRITICAL.
pub fn alert_on_change(
    rundir: &RunDir,
    now: NaiveDateTime,
    previous: Option<Level>,
    command: Option<&str>,
) -> Level {
    let rep = status(rundir, now, &Thresholds::default());
    let raised = matches!(rep.level, Level::Warning | Level::Critical);
    if let (true, true, Some(cmd)) = (raised, previous != Some(rep.level), command) {
        let json = serde_json::to_string_pretty(&rep).unwrap_or_default();
        let result = run_alert(cmd, &json);
        if let Err(e) = &result {
            tracing::warn!("nrt:alert_command '{cmd}' failed: {e}");
        }
        let fields = serde_json::json!({ "level": rep.level, "command": cmd,
            "result": result.err().unwrap_or_else(|| "ok".into()) });
        append_event(rundir, &stamp(now), "alert", fields);
    }
    rep.level
}

/// Run `sh -c cmd` with `json` on stdin; an error names what went wrong.
fn run_alert(cmd: &str, json: &str) -> Result<(), String> {
    let mut child = Command::new("sh")
        .args(["-c", cmd])
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input is not an error.
        let _ = stdin.write_all(json.as_bytes());
    }
    let t0 = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => return Err(format!("exited with {st}")),
            Ok(None) if t0.elapsed() > ALERT_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("killed after {} s", ALERT_TIMEOUT.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}
