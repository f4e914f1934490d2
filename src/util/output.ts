// Command output: human lines, the --json result on the last stdout line, progress on a terminal.

/** Output of one command run: human lines go to stderr in --json mode, the result last on stdout. */
export class Output {
  constructor(readonly json: boolean) {}
  /** A human-readable line (stdout normally, stderr under --json so stdout stays machine-readable). */
  say(line: string): void {
    if (this.json) process.stderr.write(line + '\n');
    else process.stdout.write(line + '\n');
  }
  /** The command's result: one JSON object on the last stdout line under --json. */
  result(obj: unknown): void {
    if (this.json) process.stdout.write(JSON.stringify(obj) + '\n');
  }
}

/** Progress for long work: rewrites one line on a TTY, prints nothing when stderr is not a TTY
 * unless `every` lines are requested (then plain lines, for logs). */
export class Progress {
  private readonly t0 = Date.now();
  /** tty: whether to draw (default: stderr is a terminal and CI is not set); a worker thread, whose
   * stderr is a pipe to the main thread's terminal, passes what the main thread saw. */
  constructor(private readonly total: number, private readonly label = 'step', private readonly tty = isInteractive()) {}
  update(done: number, fields: Record<string, string | number> = {}): void {
    if (!this.tty) return;
    const elapsed = (Date.now() - this.t0) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : NaN;
    const parts = [`${this.label} ${done}/${this.total}`];
    for (const [k, v] of Object.entries(fields)) parts.push(`${k} ${typeof v === 'number' ? fmt(v) : v}`);
    parts.push(`ETA ${Number.isFinite(eta) ? formatSeconds(eta) : '?'}`);
    process.stderr.write('\r\x1b[2K' + parts.join('  '));
  }
  done(): void {
    if (this.tty) process.stderr.write('\n');
  }
}

/** True when progress lines should be drawn: stderr is a terminal and CI is not set. */
export function isInteractive(): boolean {
  return process.stderr.isTTY === true && process.env['CI'] === undefined;
}

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
  return a >= 100 ? v.toFixed(0) : v.toPrecision(4);
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
