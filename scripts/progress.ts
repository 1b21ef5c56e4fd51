// Progress of a long CLI job (ingest, migrate), written to stderr so stdout stays the result:
// on a terminal, one bar redrawn in place; otherwise (a pipe, a log file, CI) a plain line at
// most every `intervalMs`, and always one when the job ends.

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** What is counted, plural: "files", "tenants". */
  unit: string;
  total: number;
  stream?: ProgressStream;
  /** Between plain lines when the stream is not a terminal (default 5 s). */
  intervalMs?: number;
  now?: () => number;
}

export interface Progress {
  /** `done` items finished so far, `failed` of them failed; `current` names the one at work. */
  update(done: number, failed: number, current?: string): void;
  /** The closing line (the bar is replaced by it on a terminal). */
  finish(): void;
}

const BAR_WIDTH = 24;
/** A terminal is redrawn at most this often. */
const REDRAW_MS = 100;

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? 5000;
  const tty = Boolean(stream.isTTY);
  const started = now();
  let done = 0;
  let failed = 0;
  let current = "";
  let lastWrite = -Infinity;
  let finished = false;

  const counts = () =>
    `${done}/${options.total} ${options.unit}${failed ? `, ${failed} failed` : ""}`;

  const draw = () => {
    const share = options.total === 0 ? 1 : Math.min(1, done / options.total);
    const filled = Math.round(share * BAR_WIDTH);
    const bar = `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`;
    const percent = `${Math.round(share * 100)}%`.padStart(4);
    let line = `${bar} ${percent} ${counts()} · ${seconds(now() - started)}`;
    if (current) line += ` · ${current}`;
    const width = Math.max(20, (stream.columns ?? 80) - 1);
    if (line.length > width) line = `${line.slice(0, width - 1)}…`;
    // \x1b[2K clears the line the bar was on.
    stream.write(`\r\x1b[2K${line}`);
  };

  const plain = () => {
    const share = options.total === 0 ? 100 : Math.round((100 * done) / options.total);
    stream.write(
      `progress: ${counts()} (${share}%) after ${seconds(now() - started)}` +
        `${current ? `; at ${current}` : ""}\n`,
    );
  };

  return {
    update(nextDone, nextFailed, nextCurrent) {
      if (finished) return;
      done = nextDone;
      failed = nextFailed;
      current = nextCurrent ?? "";
      const at = now();
      const gap = tty ? REDRAW_MS : intervalMs;
      // The last item always shows on a terminal; plain lines keep to their interval.
      if (at - lastWrite < gap && !(tty && done === options.total)) return;
      lastWrite = at;
      if (tty) draw();
      else plain();
    },
    finish() {
      if (finished) return;
      finished = true;
      const line = `${counts()} in ${seconds(now() - started)}`;
      stream.write(tty ? `\r\x1b[2K${line}\n` : `finished: ${line}\n`);
    },
  };
}
