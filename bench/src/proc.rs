//! Child processes the bench starts (killed when dropped), pinned to a CPU, with what `/proc`
//! says about them: resident memory and CPU time.

use anyhow::{bail, Context};
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A started process; SIGTERM then wait when dropped. Its output goes to `<dir>/<name>.log`.
pub struct Proc {
    pub name: String,
    pub log: PathBuf,
    child: Option<Child>,
}

/// Which CPU a process runs on: Envoy gets one core to itself so that its CPU time is what
/// bounds throughput; everything else shares the other. `None`: no pinning (one core only).
#[derive(Clone, Copy, Debug)]
pub enum Cpu {
    Gateway,
    Others,
}

impl Proc {
    pub fn spawn(
        name: &str,
        cpu: Cpu,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        dir: &Path,
    ) -> anyhow::Result<Proc> {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log)?;
        let err = out.try_clone()?;
        let mut cmd = match cpu_list(cpu) {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpus).arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name} ({})", program.display()))?;
        Ok(Proc {
            name: name.to_owned(),
            log,
            child: Some(child),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The last lines of the log, for error messages.
    pub fn log_tail(&self) -> String {
        let header = format!(
            "--- last lines of {} ({}) ---\n",
            self.name,
            self.log.display()
        );
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        header + &lines[lines.len().saturating_sub(15)..].join("\n")
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether processes are pinned: with two cores or more, the gateway gets core 0 and
/// everything else core 1.
pub fn pinned() -> bool {
    std::thread::available_parallelism().map_or(1, usize::from) >= 2
}

/// Resident memory of process `pid` in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User + system CPU time of process `pid` (every thread), in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    stat_ticks(&format!("/proc/{pid}/stat"))
}

/// User + system CPU time of the main thread of process `pid` (Envoy's: the sync service, the
/// admin server, stats), in clock ticks.
pub fn main_thread_ticks(pid: u32) -> u64 {
    stat_ticks(&format!("/proc/{pid}/task/{pid}/stat"))
}

fn stat_ticks(path: &str) -> u64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat; index 0 here is field 3.
    get(11) + get(12)
}

fn cpu_list(cpu: Cpu) -> Option<&'static str> {
    if !pinned() {
        return None;
    }
    Some(match cpu {
        Cpu::Gateway => "0",
        Cpu::Others => "1",
    })
}

/// Clock ticks per second for [`cpu_ticks`] (`getconf CLK_TCK`; 100 on Linux).
pub fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Replaces every `{{NAME}}` placeholder; fails if one is left.
pub fn render(template: &str, values: &[(&str, String)]) -> anyhow::Result<String> {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    if let Some(i) = out.find("{{") {
        bail!(
            "unrendered placeholder near {:?}",
            &out[i..(i + 40).min(out.len())]
        );
    }
    Ok(out)
}
