//! Live progress of an apply or destroy. On a terminal a spinner line shows
//! what is in flight and for how long, above which completed operations
//! scroll; elsewhere (CI logs, pipes) plain lines, plus a "still creating"
//! line every ten seconds for long operations, as Terraform prints.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::addr::Address;
use crate::plan::render::Palette;
use crate::secrets::Secrets;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Create,
    Update,
    Destroy,
    Read,
}

impl Verb {
    fn ing(self) -> &'static str {
        match self {
            Verb::Create => "Creating",
            Verb::Update => "Modifying",
            Verb::Destroy => "Destroying",
            Verb::Read => "Reading",
        }
    }

    fn still(self) -> &'static str {
        match self {
            Verb::Create => "Still creating",
            Verb::Update => "Still modifying",
            Verb::Destroy => "Still destroying",
            Verb::Read => "Still reading",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Verb::Create => "Creation complete",
            Verb::Update => "Modifications complete",
            Verb::Destroy => "Destruction complete",
            Verb::Read => "Read complete",
        }
    }
}

struct InFlight {
    verb: Verb,
    started: Instant,
    last_note: Instant,
    status: Option<String>,
}

pub struct Reporter {
    bar: Option<ProgressBar>,
    inflight: Mutex<BTreeMap<Address, InFlight>>,
    palette: Palette,
    /// Prints nothing (a benchmark, an in-process driver).
    silent: bool,
    /// Every line is masked with these.
    secrets: Arc<Secrets>,
    /// Plain output's lines since the last [`flush`](Self::flush): the
    /// walk writes a round's lines at once, not one system call each.
    pending: Mutex<Vec<u8>>,
}

impl Reporter {
    /// `interactive`: stderr is a terminal, so a live spinner can be drawn.
    pub fn new(interactive: bool, palette: Palette) -> Self {
        let bar = interactive.then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Reporter {
            bar,
            inflight: Mutex::new(BTreeMap::new()),
            palette,
            silent: false,
            secrets: Arc::new(Secrets::new()),
            pending: Mutex::new(Vec::new()),
        }
    }

    /// The same reporter, masking every line with `secrets`.
    pub fn masking(mut self, secrets: Arc<Secrets>) -> Self {
        self.secrets = secrets;
        self
    }

    /// A reporter that prints nothing.
    pub fn quiet(palette: Palette) -> Self {
        Reporter {
            silent: true,
            ..Self::new(false, palette)
        }
    }

    fn line(&self, text: &str) {
        if self.silent {
            return;
        }
        let text = self.secrets.mask(text);
        let text = text.as_ref();
        match &self.bar {
            Some(b) => b.println(text),
            None => {
                let mut pending = self.pending.lock().expect("progress lock");
                pending.extend_from_slice(text.as_bytes());
                pending.push(b'\n');
            }
        }
    }

    /// Writes the lines printed since the last flush. The walk flushes
    /// before it waits, and on every tick.
    pub fn flush(&self) {
        let lines = std::mem::take(&mut *self.pending.lock().expect("progress lock"));
        if !lines.is_empty() {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&lines).and_then(|()| out.flush());
        }
    }

    /// Writes the pending lines once they are more than `bytes`.
    pub fn flush_over(&self, bytes: usize) {
        if self.pending.lock().expect("progress lock").len() > bytes {
            self.flush();
        }
    }

    pub fn start(&self, addr: &Address, verb: Verb) {
        let now = Instant::now();
        self.inflight.lock().expect("progress lock").insert(
            addr.clone(),
            InFlight {
                verb,
                started: now,
                last_note: now,
                status: None,
            },
        );
        self.line(&format!(
            "{}: {}...",
            self.palette.bold.apply_to(addr),
            verb.ing()
        ));
        self.redraw();
    }

    /// A provider's note on a long operation ("status CREATING").
    pub fn status(&self, addr: &Address, message: &str) {
        if let Some(f) = self.inflight.lock().expect("progress lock").get_mut(addr) {
            // Masked and on one line now: the spinner draws it as it is.
            let masked = self.secrets.mask(message);
            f.status = Some(crate::diag::printable(&masked).into_owned());
        }
        self.redraw();
    }

    pub fn finish(&self, addr: &Address, id: Option<&str>) {
        let f = self.inflight.lock().expect("progress lock").remove(addr);
        if let Some(f) = f {
            let id = id.map(|i| format!(" [id={i}]")).unwrap_or_default();
            self.line(&format!(
                "{}: {} after {}{id}",
                self.palette.bold.apply_to(addr),
                f.verb.done(),
                secs(f.started.elapsed())
            ));
        }
        self.redraw();
    }

    pub fn fail(&self, addr: &Address) {
        let f = self.inflight.lock().expect("progress lock").remove(addr);
        if let Some(f) = f {
            self.line(&format!(
                "{}: {} after {}",
                self.palette.bold.apply_to(addr),
                self.palette
                    .red
                    .apply_to(format!("{} failed", f.verb.ing())),
                secs(f.started.elapsed())
            ));
        }
        self.redraw();
    }

    pub fn note(&self, text: &str) {
        self.line(text);
    }

    /// Called periodically: plain output gets "still creating" lines, the
    /// spinner gets fresh elapsed times.
    pub fn tick(&self) {
        if self.bar.is_some() {
            self.redraw();
            return;
        }
        let mut lines = Vec::new();
        {
            let mut inflight = self.inflight.lock().expect("progress lock");
            for (addr, f) in inflight.iter_mut() {
                if f.last_note.elapsed() >= Duration::from_secs(10) {
                    f.last_note = Instant::now();
                    let status = f
                        .status
                        .as_deref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default();
                    lines.push(format!(
                        "{addr}: {}... [{} elapsed]{status}",
                        f.verb.still(),
                        secs(f.started.elapsed())
                    ));
                }
            }
        }
        for l in lines {
            self.line(&l);
        }
        self.flush();
    }

    fn redraw(&self) {
        let Some(bar) = &self.bar else { return };
        let inflight = self.inflight.lock().expect("progress lock");
        let mut parts: Vec<String> = inflight
            .iter()
            .take(4)
            .map(|(a, f)| {
                let status = f
                    .status
                    .as_deref()
                    .map(|s| format!(", {s}"))
                    .unwrap_or_default();
                format!("{a} ({}{status})", secs(f.started.elapsed()))
            })
            .collect();
        if inflight.len() > 4 {
            parts.push(format!("and {} more", inflight.len() - 4));
        }
        bar.set_message(if parts.is_empty() {
            String::new()
        } else {
            format!("in flight: {}", parts.join(", "))
        });
    }

    pub fn close(&self) {
        self.flush();
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}
