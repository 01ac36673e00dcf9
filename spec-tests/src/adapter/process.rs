//! An adapter process: one JSON command per stdin line, one JSON answer per stdout line (or
//! the same lines over a socket, [`super::transport`]).
//!
//! A misbehaving adapter is normal here: every way it can fail (not starting, exiting,
//! hanging, printing garbage or oversized lines, answering the wrong command or twice)
//! becomes an [`AdapterFault`] with the tail of its stderr, never a panic or a hang.
//!
//! The adapter runs in a process group of its own, and the whole group is killed when the
//! process is dropped (after a timeout, a fault, or at the end of the run): an adapter started
//! through `sh -c` or `npm` leaves no wrapper or grandchild behind.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::Child;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

pub use super::fault::AdapterFault;
use super::protocol::{Command, Hello, PROTOCOL_VERSION};
use super::transport::{Connected, connect};

pub use super::fault::MAX_LINE_BYTES;
const STDERR_TAIL_LINES: usize = 40;
/// Longer stderr lines are kept in pieces of this size.
const STDERR_LINE_BYTES: usize = 8 << 10;
/// How often a wait for an answer checks whether the adapter has exited (its stdout may stay
/// open after it exits, held by a grandchild).
const EXIT_POLL: Duration = Duration::from_millis(50);

/// What the reader thread saw on stdout.
enum Line {
    Text(String),
    TooLong,
    Eof,
}

/// A running adapter that has answered `hello`.
pub struct AdapterProcess {
    /// None for an adapter reached over a socket.
    child: Option<Child>,
    stdin: Box<dyn Write + Send>,
    lines: Receiver<Line>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// The command answered last, to recognise a second answer to it.
    previous: Option<&'static str>,
    /// Lines read from stdout so far (to name an offending one).
    stdout_lines: usize,
    /// Check every answer against the protocol's JSON Schema.
    check_protocol: bool,
    pub hello: Hello,
}

fn shorten(text: &str) -> String {
    let mut end = text.len().min(200);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if end < text.len() {
        format!("{}…", &text[..end])
    } else {
        text.to_owned()
    }
}

impl AdapterProcess {
    /// Starts `argv` (no shell) and performs the handshake.
    pub fn start(
        argv: &[String],
        timeout: Duration,
        check_protocol: bool,
    ) -> Result<AdapterProcess, AdapterFault> {
        let Connected {
            input,
            output: stdout,
            child,
            stderr,
        } = connect(argv)?;
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut buf = Vec::new();
                match (&mut reader)
                    .take(MAX_LINE_BYTES as u64 + 1)
                    .read_until(b'\n', &mut buf)
                {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(Line::Eof);
                        return;
                    }
                    Ok(_) if buf.len() > MAX_LINE_BYTES && buf.last() != Some(&b'\n') => {
                        // Skip the rest of the oversized line.
                        let mut sink = Vec::new();
                        let _ = reader.read_until(b'\n', &mut sink);
                        if tx.send(Line::TooLong).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&buf)
                            .trim_end_matches(['\r', '\n'])
                            .to_owned();
                        if tx.send(Line::Text(text)).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let sink = tail.clone();
        // An adapter reached over a socket writes its stderr where the user started it.
        std::thread::spawn(move || {
            let Some(stderr) = stderr else { return };
            // Bytes, not text: one byte that is not UTF-8 must not end the reading (the pipe
            // would close and the adapter die on its next log line).
            let mut reader = BufReader::new(stderr);
            loop {
                let mut buf = Vec::new();
                match (&mut reader)
                    .take(STDERR_LINE_BYTES as u64)
                    .read_until(b'\n', &mut buf)
                {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let line = String::from_utf8_lossy(&buf)
                    .trim_end_matches(['\r', '\n'])
                    .to_owned();
                let mut t = sink
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if t.len() == STDERR_TAIL_LINES {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
        let hello = Hello {
            protocol: PROTOCOL_VERSION,
            implementation: super::protocol::ImplementationId {
                name: String::new(),
                version: String::new(),
            },
            capabilities: Vec::new(),
            profiles: Vec::new(),
        };
        let mut process = AdapterProcess {
            child,
            stdin: input,
            lines,
            stderr: tail,
            previous: None,
            stdout_lines: 0,
            check_protocol,
            hello,
        };
        let suite = format!("state-conformance {}", env!("CARGO_PKG_VERSION"));
        let answer = process.call(
            &Command::Hello {
                protocol: PROTOCOL_VERSION,
                suite,
            },
            timeout,
        )?;
        let hello: Hello =
            serde_json::from_value(answer.clone()).map_err(|e| AdapterFault::WrongAnswer {
                command: "hello".into(),
                answer: format!("{} ({e})", shorten(&answer.to_string())),
            })?;
        if hello.protocol != PROTOCOL_VERSION {
            return Err(AdapterFault::Protocol(hello.protocol));
        }
        process.hello = hello;
        Ok(process)
    }

    /// Sends one command and waits for its answer (the answer object, `cmd` and `ok` included).
    pub fn call(&mut self, command: &Command, timeout: Duration) -> Result<Value, AdapterFault> {
        let name = command.name();
        // Anything already waiting was never asked for.
        if let Ok(line) = self.lines.try_recv() {
            return Err(match line {
                Line::Text(line) => AdapterFault::Unsolicited {
                    line: shorten(&line),
                },
                Line::TooLong => AdapterFault::TooLong,
                Line::Eof => self.exited(),
            });
        }
        let mut text =
            serde_json::to_string(command).map_err(|e| AdapterFault::Io(e.to_string()))?;
        text.push('\n');
        if let Err(e) = self
            .stdin
            .write_all(text.as_bytes())
            .and_then(|()| self.stdin.flush())
        {
            return Err(match self.has_exited() {
                true => self.exited(),
                _ => AdapterFault::Io(e.to_string()),
            });
        }
        let line = match self.answer_within(timeout) {
            Ok(Line::Text(line)) => line,
            Ok(Line::TooLong) => return Err(AdapterFault::TooLong),
            Ok(Line::Eof) | Err(RecvTimeoutError::Disconnected) => return Err(self.exited()),
            Err(RecvTimeoutError::Timeout) => {
                return Err(AdapterFault::Timeout {
                    command: name.into(),
                    timeout_ms: timeout.as_millis(),
                });
            }
        };
        self.stdout_lines += 1;
        let answer: Value = serde_json::from_str(&line).map_err(|_| AdapterFault::Garbage {
            command: name.into(),
            line: shorten(&line),
        })?;
        // `hello` is always held to the schema: a wrong handshake ends the run before any case.
        if (self.check_protocol || name == "hello")
            && let Err(detail) = super::schema::check_answer(name, &answer)
        {
            return Err(AdapterFault::ProtocolViolation {
                command: name.into(),
                line: self.stdout_lines,
                detail,
            });
        }
        let answered = answer.get("cmd").and_then(Value::as_str);
        if answered != Some(name) {
            return Err(match (answered, self.previous) {
                (Some(a), Some(p)) if a == p => AdapterFault::Unsolicited {
                    line: shorten(&line),
                },
                _ => AdapterFault::WrongAnswer {
                    command: name.into(),
                    answer: shorten(&line),
                },
            });
        }
        self.previous = Some(name);
        match answer.get("ok") {
            Some(Value::Bool(true)) => Ok(answer),
            Some(Value::Bool(false)) => Err(AdapterFault::Refused {
                command: name.into(),
                error: answer
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given")
                    .to_owned(),
            }),
            _ => Err(AdapterFault::WrongAnswer {
                command: name.into(),
                answer: shorten(&line),
            }),
        }
    }

    /// The next stdout line within `timeout`; ends early (as a closed stdout) when the adapter
    /// has exited, even if a grandchild still holds its stdout open.
    fn answer_within(&mut self, timeout: Duration) -> Result<Line, RecvTimeoutError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left.min(EXIT_POLL)) {
                Err(RecvTimeoutError::Timeout) if !left.is_zero() => {
                    if self.has_exited() {
                        // Whatever it wrote before exiting has been read by now, or never will.
                        return self.lines.recv_timeout(EXIT_POLL).or(Ok(Line::Eof));
                    }
                }
                other => return other,
            }
        }
    }

    /// Whether the adapter's process has exited (never, for one reached over a socket: its
    /// connection closing says so).
    fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    fn exited(&mut self) -> AdapterFault {
        // The pipe closed; give the process a moment to be reaped for its status.
        let Some(child) = self.child.as_mut() else {
            return AdapterFault::Exited("closed the connection".into());
        };
        for _ in 0..50 {
            if let Ok(Some(status)) = child.try_wait() {
                return AdapterFault::Exited(status.to_string());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        AdapterFault::Exited("closed its stdout".into())
    }

    /// The last lines the adapter wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        let tail = self
            .stderr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Says `bye` (briefly); dropping the process then ends its whole group.
    pub fn stop(mut self) {
        let _ = self.call(&Command::Bye, Duration::from_millis(200));
    }

    /// Kills the adapter's process group (the adapter, any wrapper and their children), then
    /// reaps the adapter.
    fn kill_group(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return; // a socket: the connection closes when the process is dropped
        };
        #[cfg(unix)]
        if let Some(pid) = i32::try_from(child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for AdapterProcess {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// Reads the answer to `command` as `T`; an answer of the wrong shape is the adapter's fault.
pub fn decode<T: serde::de::DeserializeOwned>(
    command: &str,
    answer: Value,
) -> Result<T, AdapterFault> {
    serde_json::from_value(answer.clone()).map_err(|e| AdapterFault::WrongAnswer {
        command: command.into(),
        answer: format!("{answer} ({e})"),
    })
}
