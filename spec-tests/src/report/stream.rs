//! What a run shows while it runs. On a terminal, a progress bar. Anywhere else (a CI log),
//! in the manner of cargo-nextest: a line for each case run that fails or errors, as it
//! finishes, and a progress line at a steady interval; the grouped report follows at the end.
//! Everything goes to the sink it is given (stderr from the CLI), so standard output keeps
//! the report alone.

use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::judge::{CaseResult, Verdict};

/// Where streamed lines go.
pub type Sink = Box<dyn Write + Send>;

#[derive(Default)]
struct Counts {
    planned: usize,
    done: usize,
    failed: usize,
    errored: usize,
}

struct Shared {
    sink: Mutex<Sink>,
    counts: Mutex<Counts>,
    started: Instant,
}

impl Shared {
    fn line(&self, text: &str) {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        // A closed sink (a pipe read no further) must not stop the run.
        let _ = writeln!(sink, "{text}");
        let _ = sink.flush();
    }

    fn progress_line(&self) -> String {
        let c = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        format!(
            "[{:>7.1}s] {}/{} case runs, {} failed, {} errored",
            self.started.elapsed().as_secs_f64(),
            c.done,
            c.planned,
            c.failed,
            c.errored
        )
    }
}

/// The live view of one run: [`Progress::bar`] on a terminal, [`Progress::lines`] elsewhere.
pub struct Progress(View);

enum View {
    Bar(indicatif::ProgressBar),
    Lines {
        shared: Arc<Shared>,
        /// Ends the ticker (dropped, or sent to, when the run ends).
        stop: Option<Sender<()>>,
        ticker: Option<std::thread::JoinHandle<()>>,
    },
}

impl Progress {
    /// A bar on stderr.
    pub fn bar() -> Progress {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} case runs {elapsed} {msg}",
        ) {
            bar.set_style(style);
        }
        Progress(View::Bar(bar))
    }

    /// Streamed lines to `sink`, a progress line every `every` (none when zero).
    pub fn lines(sink: Sink, every: Duration) -> Progress {
        let shared = Arc::new(Shared {
            sink: Mutex::new(sink),
            counts: Mutex::new(Counts::default()),
            started: Instant::now(),
        });
        let (stop, stopped) = mpsc::channel::<()>();
        let ticker = (!every.is_zero()).then(|| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    shared.line(&shared.progress_line());
                }
            })
        });
        Progress(View::Lines {
            shared,
            stop: Some(stop),
            ticker,
        })
    }

    /// How many case runs the selection makes.
    pub fn planned(&self, runs: usize) {
        match &self.0 {
            View::Bar(bar) => bar.set_length(runs as u64),
            View::Lines { shared, .. } => {
                shared
                    .counts
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .planned = runs;
                let plural = if runs == 1 { "" } else { "s" };
                shared.line(&format!("running {runs} case run{plural}"));
            }
        }
    }

    /// One case run finished.
    pub fn finished(&self, r: &CaseResult) {
        match &self.0 {
            View::Bar(bar) => {
                bar.inc(1);
                if r.verdict.fails_run() {
                    bar.set_message(format!("last failure: {}", r.case));
                }
            }
            View::Lines { shared, .. } => {
                let label = {
                    let mut c = shared.counts.lock().unwrap_or_else(PoisonError::into_inner);
                    c.done += 1;
                    match r.verdict {
                        Verdict::Fail { .. } => c.failed += 1,
                        Verdict::Errored { .. } => c.errored += 1,
                        _ => {}
                    }
                    r.verdict.fails_run().then(|| super::tag(&r.verdict))
                };
                if let Some(label) = label {
                    shared.line(&format!(
                        "{label:<5} [{:>6.3}s] {} [{}]",
                        r.duration_ms as f64 / 1000.0,
                        r.case,
                        r.profile
                    ));
                }
            }
        }
    }

    /// The run is over: the bar goes, the ticker stops and a last progress line is written.
    pub fn finish(&mut self) {
        match &mut self.0 {
            View::Bar(bar) => bar.finish_and_clear(),
            View::Lines {
                shared,
                stop,
                ticker,
            } => {
                drop(stop.take());
                if let Some(t) = ticker.take() {
                    let _ = t.join();
                }
                shared.line(&shared.progress_line());
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let View::Lines { stop, ticker, .. } = &mut self.0 {
            drop(stop.take());
            if let Some(t) = ticker.take() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::case::Weight;
    use crate::judge::outcome::Outcome;

    /// A sink the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn result(case: &str, verdict: Verdict) -> CaseResult {
        CaseResult {
            case: case.into(),
            profile: "spec-1.0".into(),
            weight: Weight::Required,
            verdict,
            outcome: Outcome::SetupError {
                reason: String::new(),
            },
            duration_ms: 1_250,
        }
    }

    #[test]
    fn failures_stream_as_they_finish_and_the_run_ends_with_a_count() {
        let sink = Captured::default();
        let mut progress = Progress::lines(Box::new(sink.clone()), Duration::ZERO);
        progress.planned(3);
        progress.finished(&result("a", Verdict::Pass));
        progress.finished(&result("b", Verdict::Fail { mismatches: vec![] }));
        progress.finished(&result("c", Verdict::Errored { mismatches: vec![] }));
        progress.finish();
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "running 3 case runs");
        assert_eq!(lines[1], "FAIL  [ 1.250s] b [spec-1.0]");
        assert_eq!(lines[2], "ERROR [ 1.250s] c [spec-1.0]");
        assert!(
            lines[3].ends_with("] 3/3 case runs, 1 failed, 1 errored"),
            "{}",
            lines[3]
        );
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn the_ticker_writes_progress_lines_until_the_run_ends() {
        let sink = Captured::default();
        let mut progress = Progress::lines(Box::new(sink.clone()), Duration::from_millis(1));
        progress.planned(1);
        // Bounded: the ticker writes a line every millisecond.
        for _ in 0..1_000 {
            if String::from_utf8_lossy(&sink.0.lock().unwrap())
                .lines()
                .count()
                >= 3
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        progress.finish();
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.lines().filter(|l| l.contains("0/1 case runs")).count() >= 2,
            "{text}"
        );
    }
}
