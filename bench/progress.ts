/**
 * The progress bar on stderr: one line redrawn in place while the bench runs, with the current
 * scenario, peer, round and phase, and an estimate of the time left.
 *
 * The plan is counted in seconds: every run is its peer's start-up estimate + warm-up + measured
 * seconds + the pause between peers. Timed phases advance with the wall clock, so the bar moves
 * while wrk runs in its own process. When stderr is not a terminal no bar is drawn, and the log
 * lines (which always go through `log`) are all that is written.
 */

export function renderBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
}

/** 75 -> "1m15s", 5 -> "5s", 3725 -> "1h02m". */
export function formatDuration(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The bar line for a state; `columns` bounds its length (the terminal width). */
export function renderProgressLine(state: { fraction: number; label: string; phase: string; leftSec: number }, columns: number): string {
  const pct = `${String(Math.floor(Math.min(1, Math.max(0, state.fraction)) * 100)).padStart(3)}%`;
  const line = `[${renderBar(state.fraction, 24)}] ${pct}  ${state.label}${state.phase === '' ? '' : ` · ${state.phase}`}  ~${formatDuration(state.leftSec)} left`;
  return line.length > columns - 1 ? `${line.slice(0, Math.max(0, columns - 2))}…` : line;
}

interface Phase {
  name: string;
  seconds: number;
  startedAt: number;
}

export class Progress {
  private doneSec = 0;
  private label = '';
  private phase: Phase | null = null;
  private timer: NodeJS.Timeout | null = null;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly enabled: boolean,
    private readonly totalSec: number,
  ) {
    if (enabled) {
      this.timer = setInterval(() => this.draw(), 250);
      this.timer.unref();
    }
  }

  /** A line of log output: the bar steps aside, the line is written, the bar comes back. */
  log(msg: string): void {
    this.print(this.out, msg);
  }

  /** Text for another stream (the tables on stdout), written the same way. */
  print(stream: NodeJS.WritableStream, text: string): void {
    this.clear();
    stream.write(text.endsWith('\n') ? text : `${text}\n`);
    this.draw();
  }

  setLabel(label: string): void {
    this.label = label;
    this.draw();
  }

  /** Start a phase expected to take `seconds`; the previous phase counts as done. */
  startPhase(name: string, seconds: number): void {
    this.endPhase();
    this.phase = { name, seconds, startedAt: Date.now() };
    this.draw();
  }

  endPhase(): void {
    if (this.phase !== null) this.doneSec += this.phase.seconds;
    this.phase = null;
  }

  /** Count planned seconds as done without running them (a skipped or failed run). */
  skip(seconds: number): void {
    this.doneSec += seconds;
    this.draw();
  }

  /** Seconds counted as done so far (with `catchUp`: account a run that ended early or late). */
  mark(): number {
    return this.doneSec;
  }

  /** After a run planned at `plannedSec` that started at `mark`: count exactly its plan as done. */
  catchUp(mark: number, plannedSec: number): void {
    this.endPhase();
    this.doneSec = mark + plannedSec;
    this.draw();
  }

  finish(): void {
    this.endPhase();
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.clear();
  }

  private state(): { fraction: number; label: string; phase: string; leftSec: number } {
    let current = 0;
    let phase = '';
    if (this.phase !== null) {
      const elapsed = (Date.now() - this.phase.startedAt) / 1000;
      current = Math.min(elapsed, this.phase.seconds);
      phase = this.phase.seconds >= 2 && Number.isInteger(this.phase.seconds) ? `${this.phase.name} ${Math.min(Math.floor(elapsed), this.phase.seconds)}/${this.phase.seconds} s` : this.phase.name;
    }
    const done = this.doneSec + current;
    return { fraction: this.totalSec > 0 ? done / this.totalSec : 0, label: this.label, phase, leftSec: this.totalSec - done };
  }

  private draw(): void {
    if (!this.enabled) return;
    // A pseudo-terminal may report 0 columns: assume a usual width then.
    const columns = (this.out.columns ?? 0) >= 40 ? this.out.columns : 100;
    const line = renderProgressLine(this.state(), columns);
    this.out.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }

  private clear(): void {
    if (this.enabled && this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = false;
  }
}
