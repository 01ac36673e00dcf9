//! How the runner reaches an adapter: a child process it starts (argv, no shell), or an
//! adapter the user started that listens on a socket (`tcp://HOST:PORT` or `unix:PATH` as
//! the whole adapter command), so it can run under the user's own debugger while a case runs.
//! Either way the protocol is the same JSON lines, one command and one answer at a time.

use std::io::{Read, Write};
use std::process::{Child, ChildStderr, Command as Process, Stdio};

use super::fault::AdapterFault;

/// An adapter reached: where commands go, where answers come from, and (for a child
/// process) the process and its stderr.
pub struct Connected {
    pub input: Box<dyn Write + Send>,
    pub output: Box<dyn Read + Send>,
    pub child: Option<Child>,
    pub stderr: Option<ChildStderr>,
}

/// Where an adapter is, from its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint<'a> {
    /// A program to start, with its arguments.
    Command(&'a [String]),
    /// `tcp://HOST:PORT`: an adapter listening on a TCP socket.
    Tcp(&'a str),
    /// `unix:PATH`: an adapter listening on a Unix socket.
    Unix(&'a str),
}

impl<'a> Endpoint<'a> {
    /// A single word `tcp://…` or `unix:…` is a socket; anything else is a command.
    pub fn of(argv: &'a [String]) -> Endpoint<'a> {
        match argv {
            [one] if one.starts_with("tcp://") => Endpoint::Tcp(&one["tcp://".len()..]),
            [one] if one.starts_with("unix:") => Endpoint::Unix(&one["unix:".len()..]),
            _ => Endpoint::Command(argv),
        }
    }
}

/// Reaches the adapter at `argv`: starts it, or connects to it.
pub fn connect(argv: &[String]) -> Result<Connected, AdapterFault> {
    match Endpoint::of(argv) {
        Endpoint::Command(argv) => spawn(argv),
        Endpoint::Tcp(addr) => {
            let stream = std::net::TcpStream::connect(addr)
                .map_err(|e| AdapterFault::Spawn(format!("cannot connect to tcp://{addr}: {e}")))?;
            // One command, one answer: no batching of small writes.
            let _ = stream.set_nodelay(true);
            let output = stream
                .try_clone()
                .map_err(|e| AdapterFault::Spawn(format!("tcp://{addr}: {e}")))?;
            Ok(Connected {
                input: Box::new(stream),
                output: Box::new(output),
                child: None,
                stderr: None,
            })
        }
        Endpoint::Unix(path) => unix(path),
    }
}

#[cfg(unix)]
fn unix(path: &str) -> Result<Connected, AdapterFault> {
    let stream = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| AdapterFault::Spawn(format!("cannot connect to unix:{path}: {e}")))?;
    let output = stream
        .try_clone()
        .map_err(|e| AdapterFault::Spawn(format!("unix:{path}: {e}")))?;
    Ok(Connected {
        input: Box::new(stream),
        output: Box::new(output),
        child: None,
        stderr: None,
    })
}

#[cfg(not(unix))]
fn unix(path: &str) -> Result<Connected, AdapterFault> {
    Err(AdapterFault::Spawn(format!(
        "unix:{path}: Unix sockets need a Unix system; use tcp://HOST:PORT"
    )))
}

/// Starts `argv` (no shell) in a process group of its own, its stdio piped.
fn spawn(argv: &[String]) -> Result<Connected, AdapterFault> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| AdapterFault::Spawn("empty adapter command".into()))?;
    let mut command = Process::new(program);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    // The adapter inherits the runner's environment; this is the one variable added
    // (docs/adapter-protocol.md): a Python adapter's answers then reach the pipe as written
    // instead of sitting in a block buffer (the commonest `hello` timeout).
    let mut child = command
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| AdapterFault::Spawn(format!("{program}: {e}")))?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(AdapterFault::Spawn("no pipes to the adapter".into()));
    };
    Ok(Connected {
        input: Box::new(stdin),
        output: Box::new(stdout),
        child: Some(child),
        stderr: Some(stderr),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_socket_word_is_a_socket_and_anything_else_a_command() {
        let words = |w: &[&str]| w.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            Endpoint::of(&words(&["tcp://127.0.0.1:9000"])),
            Endpoint::Tcp("127.0.0.1:9000")
        );
        assert_eq!(
            Endpoint::of(&words(&["unix:/tmp/a.sock"])),
            Endpoint::Unix("/tmp/a.sock")
        );
        let cmd = words(&["node", "tcp://x"]);
        assert_eq!(Endpoint::of(&cmd), Endpoint::Command(&cmd));
    }
}
