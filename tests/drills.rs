//! Failure drills through the binary: a batch killed with SIGKILL, two runs over one output
//! folder at once, a read-only output folder and a disk that fills up mid-write.
//!
//! The last two need root (to drop privileges to `nobody`, and to mount a small tmpfs); they
//! skip with a printed notice when that is not possible.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use obscura::synth::SynthParams;

/// The binary under test; `OBSCURA_DRILL_BIN` runs the drills against another build (an
/// older release, to see what a fix changed).
fn bin() -> PathBuf {
    std::env::var_os("OBSCURA_DRILL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_obscura")))
}

/// Bursts of 3 frames of 256 x 192 under `root/in/bNN/`, and a manifest listing them.
fn bursts(root: &Path, n: usize) -> (PathBuf, Vec<String>) {
    let mut names = Vec::new();
    let mut lines = String::new();
    for k in 0..n {
        let name = format!("b{k:02}");
        let p = SynthParams {
            frames: 3,
            width: 256,
            height: 192,
            motion: 2.0,
            seed: 100 + k as u64,
            ..SynthParams::default()
        };
        common::write_dngs(&root.join("in").join(&name), &p);
        lines.push_str(&format!("in/{name}/\n"));
        names.push(name);
    }
    let manifest = root.join("bursts.txt");
    std::fs::write(&manifest, lines).unwrap();
    (manifest, names)
}

fn batch(manifest: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.arg("process")
        .arg("--manifest")
        .arg(manifest)
        .arg("-o")
        .arg(out)
        .args(extra);
    c
}

/// The visible files of `dir` (outputs) and the hidden ones (locks, temporaries).
fn listing(dir: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut shown, mut hidden) = (BTreeSet::new(), BTreeSet::new());
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            hidden.insert(name);
        } else {
            shown.insert(name);
        }
    }
    (shown, hidden)
}

/// Every visible file of `dir` is a complete 256 x 192 JPEG (decoded to the last row).
fn assert_complete(dir: &Path) -> usize {
    let (shown, _) = listing(dir);
    for name in &shown {
        let p = dir.join(name);
        let img = image::open(&p).unwrap_or_else(|e| panic!("{}: incomplete: {e}", p.display()));
        assert_eq!((img.width(), img.height()), (256, 192), "{}", p.display());
    }
    shown.len()
}

fn expected(names: &[String]) -> BTreeSet<String> {
    names.iter().map(|n| format!("{n}.jpg")).collect()
}

/// The bursts a batch's `--report` lists as processed.
fn processed(report: &Path) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    v["processed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let out = r["output"].as_str().unwrap_or_default();
            Path::new(out)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn wait_with_timeout(mut child: Child, limit: Duration) -> Output {
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(t.elapsed() < limit, "run did not finish in {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// When a drill kills the batch.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// When the n-th output has appeared.
    Outputs(usize),
    /// When a temporary file is seen: in the middle of writing an output.
    Writing,
}

#[test]
fn sigkill_mid_batch_leaves_only_complete_outputs_and_the_rerun_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let (manifest, names) = bursts(dir.path(), 16);
    let out = dir.path().join("out");
    for (round, at) in [KillAt::Outputs(1), KillAt::Outputs(5), KillAt::Writing]
        .into_iter()
        .enumerate()
    {
        let _ = std::fs::remove_dir_all(&out);
        let mut child = batch(&manifest, &out, &["-q"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let t = Instant::now();
        let mut finished = false;
        loop {
            let (shown, hidden) = listing_if(&out);
            let now = match at {
                KillAt::Outputs(n) => shown.len() >= n,
                KillAt::Writing => hidden.iter().any(|h| h.contains(".tmp-")),
            };
            if now {
                break;
            }
            if child.try_wait().unwrap().is_some() {
                finished = true;
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(120), "no output in 120 s");
            if matches!(at, KillAt::Outputs(_)) {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let (shown, hidden) = listing(&out);
        let done = assert_complete(&out);
        assert!(shown.is_subset(&expected(&names)), "{shown:?}");
        if finished {
            // the poll missed the moment (a write takes about a millisecond)
            eprintln!("round {round} ({at:?}): NOTICE: the batch finished before the kill");
        } else {
            assert!(
                done < names.len(),
                "round {round}: all outputs before the kill"
            );
            eprintln!(
                "round {round} ({at:?}): SIGKILL left {done} complete outputs, no partial one; \
                 hidden files left: {hidden:?}"
            );
        }

        // the rerun skips what is done, completes the rest and clears the debris
        let report = dir.path().join(format!("rerun{round}.json"));
        let o = batch(&manifest, &out, &["-q", "--report"])
            .arg(&report)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let redone = processed(&report);
        assert_eq!(redone.len(), names.len() - done, "{redone:?}");
        let (shown, hidden) = listing(&out);
        assert_eq!(shown, expected(&names));
        assert!(hidden.is_empty(), "debris after the rerun: {hidden:?}");
        assert_eq!(assert_complete(&out), names.len());
    }
    // a kill between an output's rename and the release of its claim (microseconds apart, so
    // made by hand here) leaves a lock file beside a complete output, and one mid-overwrite a
    // temporary file: a rerun that skips the output clears both
    std::fs::write(out.join(".b03.jpg.lock"), b"").unwrap();
    std::fs::write(out.join(".b03.jpg.tmp-999999-0"), b"half a jpeg").unwrap();
    let o = batch(&manifest, &out, &["-q"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (shown, hidden) = listing(&out);
    assert_eq!(shown, expected(&names));
    assert!(
        hidden.is_empty(),
        "debris after a rerun with nothing to do: {hidden:?}"
    );
}

/// [`listing`] of a folder that may not exist yet.
fn listing_if(dir: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    if dir.is_dir() {
        listing(dir)
    } else {
        Default::default()
    }
}

#[test]
fn two_runs_at_once_write_each_output_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (manifest, names) = bursts(dir.path(), 8);
    // (a) the two halves of a sharded batch; (b) the same share started twice (a job array
    // task restarted while its first instance still runs); (c) two unsharded runs
    for (case, shards) in [
        ("shards 1/2 and 2/2", [Some("1/2"), Some("2/2")]),
        ("shard 1/1 twice", [Some("1/1"), Some("1/1")]),
        ("no shard, twice", [None, None]),
    ] {
        let out = dir
            .path()
            .join(format!("out-{}", case.replace([' ', '/', ','], "_")));
        let reports: Vec<PathBuf> = (0..2)
            .map(|k| out.with_extension(format!("report{k}.json")))
            .collect();
        let children: Vec<Child> = shards
            .iter()
            .zip(&reports)
            .map(|(shard, report)| {
                let mut c = batch(&manifest, &out, &["-q", "--report"]);
                c.arg(report);
                if let Some(s) = shard {
                    c.args(["--shard", s]);
                }
                c.stderr(Stdio::piped()).spawn().unwrap()
            })
            .collect();
        for child in children {
            let o = wait_with_timeout(child, Duration::from_secs(300));
            assert!(
                o.status.success(),
                "{case}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let runs: Vec<Vec<String>> = reports.iter().map(|r| processed(r)).collect();
        let mut all: Vec<&String> = runs.iter().flatten().collect();
        all.sort();
        let unique: BTreeSet<&String> = all.iter().copied().collect();
        eprintln!(
            "{case}: processed {} and {} bursts, {} distinct of {}",
            runs[0].len(),
            runs[1].len(),
            unique.len(),
            names.len()
        );
        assert_eq!(
            all.len(),
            unique.len(),
            "{case}: a burst was processed twice: {all:?}"
        );
        assert_eq!(unique.len(), names.len(), "{case}: {all:?}");
        let (shown, hidden) = listing(&out);
        assert_eq!(shown, expected(&names), "{case}");
        assert!(hidden.is_empty(), "{case}: debris {hidden:?}");
        assert_complete(&out);
    }
}

/// `Command` for the binary run as `nobody` when this test runs as root and `setpriv` can
/// drop privileges; `None` (after a notice) otherwise.
fn as_nobody() -> Option<Command> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        // a non-root user cannot write a read-only folder: the drill runs as this user
        return Some(Command::new(bin()));
    }
    let drop = |c: &mut Command| {
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]);
    };
    let mut probe = Command::new("setpriv");
    drop(&mut probe);
    if !probe.arg("true").status().is_ok_and(|s| s.success()) {
        eprintln!(
            "SKIPPED: read-only output folder: running as root and setpriv cannot drop to \
             nobody (root ignores folder permissions)"
        );
        return None;
    }
    let mut c = Command::new("setpriv");
    drop(&mut c);
    c.arg(bin());
    Some(c)
}

/// Makes `p` and every folder above it up to `/` readable and searchable by others (the
/// test's temporary folder is private to its owner).
fn open_up(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_read_only_output_folder_fails_cleanly() {
    let Some(_) = as_nobody() else { return };
    let dir = tempfile::tempdir().unwrap();
    open_up(dir.path(), 0o755);
    let (manifest, names) = bursts(dir.path(), 3);
    for entry in walk(dir.path()) {
        open_up(&entry, if entry.is_dir() { 0o755 } else { 0o644 });
    }
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    open_up(&ro, 0o555);

    // a batch: stops at the first burst, naming the folder, without processing the others
    let t = Instant::now();
    let o = as_nobody()
        .unwrap()
        .args(["process", "--manifest"])
        .arg(&manifest)
        .arg("-o")
        .arg(&ro)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    eprintln!(
        "batch into a read-only folder: exit {:?} in {:.2} s: {}",
        o.status.code(),
        t.elapsed().as_secs_f64(),
        err.trim()
    );
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&ro.display().to_string()), "{err}");
    assert!(err.to_lowercase().contains("permission denied"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);

    // one burst
    let out = ro.join("x.jpg");
    let o = as_nobody()
        .unwrap()
        .arg("process")
        .arg(dir.path().join("in").join(&names[0]))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    eprintln!(
        "one burst into a read-only folder: exit {:?}: {}",
        o.status.code(),
        err.trim()
    );
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("x.jpg") && err.to_lowercase().contains("permission denied"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);
}

/// Every path under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

/// A tmpfs of `kb` kilobytes mounted at `at`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, kb: usize) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kb}k"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_disk_that_fills_up_mid_write_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let (manifest, names) = bursts(dir.path(), 4);
    // one JPEG of 256 x 192 is about 40-60 kB: 96 kB holds one or two, not four
    let mnt = dir.path().join("small");
    let Some(fs) = Tmpfs::mount(&mnt, 96) else {
        eprintln!("SKIPPED: disk-full drill: cannot mount a tmpfs (needs root)");
        return;
    };
    let o = batch(&manifest, &mnt, &[]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let (shown, hidden) = listing(&mnt);
    eprintln!(
        "batch onto a 96 kB disk: exit {:?}, {} complete outputs; {}",
        o.status.code(),
        shown.len(),
        err.trim()
    );
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(shown.len() < names.len(), "{shown:?}");
    assert!(
        hidden.is_empty(),
        "partial or temporary files left: {hidden:?}"
    );
    assert_complete(&mnt);

    // one burst onto a disk with room for none
    drop(fs);
    let tiny = dir.path().join("tiny");
    let _fs = Tmpfs::mount(&tiny, 16).unwrap();
    let out = tiny.join("x.jpg");
    let o = Command::new(bin())
        .arg("process")
        .arg(dir.path().join("in").join(&names[0]))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    eprintln!(
        "one burst onto a 16 kB disk: exit {:?}: {}",
        o.status.code(),
        err.trim()
    );
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("x.jpg") && err.contains("No space left on device"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&tiny).unwrap().count(),
        0,
        "a file was left"
    );
}
