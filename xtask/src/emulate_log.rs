//! The request log of `cargo xtask emulate`: a `tracing` subscriber of its own that writes one
//! line per event, and a writer that batches those lines to stdout from a thread of its own.

use std::fmt::Write as _;
use std::time::Duration;

/// The format of the log's lines: `2026-11-29T23:42:01.123456Z  INFO GET /managementServer/data
/// 200 0.1ms`, as `tracing_subscriber`'s default full format without targets and spans prints
/// them, written with less work. The default formats the date afresh and escapes every field
/// through `Debug` for each line: a tenth of an emulator's CPU per GET under load (`cargo xtask
/// bench emulator`). Here each thread formats the date and time to the second once per second
/// and writes the microseconds digit by digit, and the fields are written as they are, with
/// control characters escaped by a byte scan that finds none in the common case (a logged path
/// cannot hold one: hyper refuses such request lines).
#[derive(Default)]
struct LogLine;

thread_local! {
    /// The last second this thread formatted: (seconds since the epoch, `YYYY-MM-DDTHH:MM:SS`).
    static SECOND: std::cell::RefCell<(u64, String)> = const {
        std::cell::RefCell::new((0, String::new()))
    };
}

impl LogLine {
    fn timestamp(&self, out: &mut impl std::fmt::Write) -> std::fmt::Result {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        SECOND.with_borrow_mut(|second| {
            if second.1.is_empty() || second.0 != now.as_secs() {
                let (y, mo, d, h, mi, s) = conformance::clock::civil(std::time::UNIX_EPOCH + now);
                second.0 = now.as_secs();
                second.1 = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
            }
            out.write_str(&second.1)
        })?;
        let mut fraction = *b".000000Z";
        let mut micros = now.subsec_micros();
        for digit in fraction[1..7].iter_mut().rev() {
            *digit = b'0' + (micros % 10) as u8;
            micros /= 10;
        }
        out.write_str(std::str::from_utf8(&fraction).unwrap_or(".000000Z"))
    }
}

impl LogLine {
    /// Writes `event` as one line, ending in a newline.
    fn write(&self, ansi: bool, event: &tracing::Event<'_>, out: &mut String) -> std::fmt::Result {
        self.timestamp(out)?;
        let (colour, level) = match *event.metadata().level() {
            tracing::Level::ERROR => ("31", "ERROR"),
            tracing::Level::WARN => ("33", " WARN"),
            tracing::Level::INFO => ("32", " INFO"),
            tracing::Level::DEBUG => ("34", "DEBUG"),
            tracing::Level::TRACE => ("34", "TRACE"),
        };
        if ansi {
            write!(out, " \x1b[{colour}m{level}\x1b[0m ")?;
        } else {
            out.push(' ');
            out.push_str(level);
            out.push(' ');
        }
        let mut fields = LogFields {
            out: Clean(&mut *out),
            first: true,
        };
        event.record(&mut fields);
        out.push('\n');
        Ok(())
    }
}

/// The subscriber `cargo xtask emulate` installs: each event at INFO or above becomes one
/// [`LogLine`] handed to the writer. The emulators open no spans, so none are tracked:
/// `tracing_subscriber::fmt`'s registry and layers cost more per request than the line itself
/// (`cargo xtask bench emulator`).
pub struct LineSubscriber<W> {
    pub writer: W,
    /// Colours the level.
    pub ansi: bool,
}

thread_local! {
    /// The line being written, reused from one event to the next.
    static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

impl<W> tracing::Subscriber for LineSubscriber<W>
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::INFO
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::INFO)
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        use std::io::Write as _;
        let write = |line: &mut String| {
            line.clear();
            if LogLine.write(self.ansi, event, line).is_ok() {
                let _ = self.writer.make_writer().write_all(line.as_bytes());
            }
        };
        // An event logged while this thread writes one (none is, today) gets its own buffer.
        let reused = LINE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut line) => {
                write(&mut line);
                true
            }
            Err(_) => false,
        });
        if !reused {
            write(&mut String::new());
        }
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// Writes text with control characters escaped (`\u{1b}`), so that a logged value cannot forge
/// lines or terminal sequences; text without one (the common case) passes in one piece.
struct Clean<W>(W);

impl<W: std::fmt::Write> std::fmt::Write for Clean<W> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        // Control characters are C0 (below 0x20), DEL, and C1 (U+0080 to U+009F, which UTF-8
        // writes from 0xC2): one vectorized pass over the bytes clears the common case.
        if !text.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) {
            return self.0.write_str(text);
        }
        let mut rest = text;
        while let Some(at) = rest.find(char::is_control) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            for escaped in c.escape_unicode() {
                self.0.write_char(escaped)?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

/// An event's fields: the message as it is, the others as `name=value`, space-separated.
struct LogFields<W> {
    out: Clean<W>,
    first: bool,
}

impl<W: std::fmt::Write> LogFields<W> {
    fn name(&mut self, field: &tracing::field::Field) {
        if !std::mem::take(&mut self.first) {
            let _ = self.out.0.write_char(' ');
        }
        if field.name() != "message" {
            let _ = write!(self.out.0, "{}=", field.name());
        }
    }
}

impl<W: std::fmt::Write> tracing::field::Visit for LogFields<W> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.name(field);
        // Quoted like the default format's, apart from the message.
        let _ = if field.name() == "message" {
            self.out.write_str(value)
        } else {
            write!(self.out, "{value:?}")
        };
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.name(field);
        let _ = write!(self.out, "{value:?}");
    }
}

/// How long the log's thread waits after the first line it is woken for, gathering what follows,
/// before it writes them all.
const LOG_GATHER: Duration = Duration::from_millis(10);

/// Past this many bytes waiting, the thread logging a line writes them all itself (the output is
/// not keeping up: wait for it rather than hold ever more in memory).
const LOG_MAX_WAITING: usize = 1 << 20;

/// The log's writer (one line per request, formatted by `tracing_subscriber`): lines are appended
/// to a buffer that a thread of its own writes to stdout, in order, a few milliseconds later, so
/// that answering a request costs a copy rather than a write to the terminal or file (one system
/// call per line). The thread sleeps while nothing is logged; [`RequestLog::flush`] writes what
/// waits at once.
#[derive(Clone)]
pub struct RequestLog {
    shared: std::sync::Arc<LogShared>,
    /// The thread that writes; `None` when it could not be started (lines then wait until the
    /// buffer is full, or until `flush`).
    writer: Option<std::thread::Thread>,
}

struct LogShared {
    /// Lines not written yet.
    waiting: std::sync::Mutex<Vec<u8>>,
    /// The lines being written: swapped with `waiting` when written, so that both buffers keep
    /// their capacity (a buffer emptied by `take` grew again by doublings, a tenth of the log's
    /// work per line). Held while writing to stdout, taken before `waiting`, so that lines are
    /// written in the order they were logged whoever writes them.
    writing: std::sync::Mutex<Vec<u8>>,
}

/// What each buffer keeps of its capacity once written (a burst may have grown it further).
const LOG_KEPT_CAPACITY: usize = 256 * 1024;

impl LogShared {
    fn flush(&self) {
        use std::io::Write as _;
        let mut writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(
            &mut *writing,
            &mut *self.waiting.lock().unwrap_or_else(|e| e.into_inner()),
        );
        if !writing.is_empty() {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(&writing);
            let _ = stdout.flush();
        }
        writing.clear();
        writing.shrink_to(LOG_KEPT_CAPACITY);
    }
}

impl RequestLog {
    pub fn start() -> Self {
        let shared = std::sync::Arc::new(LogShared {
            waiting: std::sync::Mutex::new(Vec::new()),
            writing: std::sync::Mutex::new(Vec::new()),
        });
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || loop {
                std::thread::park();
                std::thread::sleep(LOG_GATHER);
                for_thread.flush();
            });
        RequestLog {
            shared,
            writer: thread.ok().map(|handle| handle.thread().clone()),
        }
    }

    pub fn flush(&self) {
        self.shared.flush();
    }
}

impl std::io::Write for &RequestLog {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut waiting = self
            .shared
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let first = waiting.is_empty();
        waiting.extend_from_slice(line);
        let full = waiting.len() >= LOG_MAX_WAITING;
        drop(waiting);
        if full {
            self.shared.flush();
        } else if first {
            if let Some(writer) = &self.writer {
                writer.unpark();
            }
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RequestLog {
    type Writer = &'a RequestLog;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines [`LogLine`] writes for the events `emit` logs.
    fn log_lines(emit: impl FnOnce()) -> Vec<String> {
        #[derive(Clone, Default)]
        struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = LineSubscriber {
            writer: move || writer.clone(),
            ansi: false,
        };
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        text.lines().map(String::from).collect()
    }

    #[test]
    fn log_lines_carry_time_level_and_message_with_control_characters_escaped() {
        let lines = log_lines(|| {
            let (method, path, status) = ("GET", "/managementServer/data", 200);
            tracing::info!(target: "emulator", "{method} {path} {status} 0.1ms");
            tracing::warn!(operation = "GetJob", status = 503, "fault: injected answer");
            tracing::info!("forged\n2026-01-01T00:00:00.000000Z  INFO \x1b[31mred");
            tracing::debug!("below the log's level: not written");
        });
        assert_eq!(lines.len(), 3, "{lines:?}");
        // 2026-11-29T23:42:01.123456Z, then the level right-aligned in five columns.
        let (time, rest) = lines[0].split_once(' ').unwrap();
        assert_eq!(time.len(), 27, "{time}");
        assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
        assert!(
            time.as_bytes()[19] == b'.' && time[20..26].bytes().all(|b| b.is_ascii_digit()),
            "{time}"
        );
        let year: i32 = time[..4].parse().unwrap();
        assert!(year >= 2024, "{time}");
        assert_eq!(rest, " INFO GET /managementServer/data 200 0.1ms");
        assert!(
            lines[1].ends_with("  WARN fault: injected answer operation=\"GetJob\" status=503"),
            "{}",
            lines[1]
        );
        // One line, no terminal sequence: the newline and the escape are written escaped.
        assert!(
            lines[2]
                .ends_with(" INFO forged\\u{a}2026-01-01T00:00:00.000000Z  INFO \\u{1b}[31mred"),
            "{}",
            lines[2]
        );
    }

    #[test]
    fn control_characters_of_every_kind_are_escaped_and_nothing_else() {
        let clean = |text: &str| {
            let mut out = String::new();
            std::fmt::Write::write_str(&mut Clean(&mut out), text).unwrap();
            out
        };
        assert_eq!(clean("/plain/path?q=1"), "/plain/path?q=1");
        // C0, DEL and C1 (U+0085, written 0xC2 0x85).
        assert_eq!(clean("a\tb\x7fc\u{85}d"), "a\\u{9}b\\u{7f}c\\u{85}d");
        // Not controls, though U+00A0 is written from 0xC2 too.
        assert_eq!(
            clean("caf\u{e9} \u{a0}\u{1f600}"),
            "caf\u{e9} \u{a0}\u{1f600}"
        );
    }
}
