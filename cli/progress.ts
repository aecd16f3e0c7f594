// A deploy's steps with how long each took: a spinner on a terminal, plain lines otherwise.
// Always on stderr (diagnostics), so stdout keeps only the data.
import type { ChalkInstance } from 'chalk';
import { colorsOf, systemIO, type IOStreams, type Sink } from './io.ts';
import { seconds } from './output.ts';

const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class Step {
  private readonly progress: Progress;
  label: string;
  readonly started = Date.now();
  ended = false;
  /** Plain mode: the "label ..." line is still open (nothing printed after it). */
  lineOpen = false;

  constructor(progress: Progress, label: string) {
    this.progress = progress;
    this.label = label;
  }

  /** Changes the label while it runs (e.g. "waiting for ready (1/2)"). */
  update(label: string): void {
    this.label = label;
    this.progress.redraw();
  }

  /** A line of output that belongs to this step (pip's). */
  detail(line: string): void {
    this.progress.detail(this, line);
  }

  done(note?: string): void {
    this.progress.end(this, true, note);
  }

  fail(note?: string): void {
    this.progress.end(this, false, note);
  }
}

export class Progress {
  private readonly stream: Sink;
  private readonly tty: boolean;
  private readonly c: ChalkInstance;
  private readonly quiet: boolean;
  private current: Step | undefined;
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;

  /** Draws on io's stderr: a spinner when it can redraw a line, plain lines otherwise. */
  constructor(io: IOStreams = systemIO(), options: { quiet?: boolean } = {}) {
    this.stream = io.stderr;
    this.tty = io.canRedraw;
    this.c = colorsOf(io, 'stderr');
    this.quiet = options.quiet ?? false;
  }

  step(label: string): Step {
    if (this.current && !this.current.ended) this.current.done();
    const step = new Step(this, label);
    this.current = step;
    if (this.quiet) return step;
    if (this.tty) {
      this.timer = setInterval(() => this.redraw(), 80);
      this.redraw();
    } else {
      this.stream.write(`${label} ...`);
      step.lineOpen = true;
    }
    return step;
  }

  /** A message between steps. */
  note(line: string): void {
    if (this.quiet) return;
    this.clearLine();
    this.closePlainLine();
    this.stream.write(line + '\n');
    this.redraw();
  }

  redraw(): void {
    const step = this.current;
    if (!this.tty || this.quiet || step === undefined || step.ended) return;
    this.frame = (this.frame + 1) % frames.length;
    this.stream.write(
      `\r\x1b[K${this.c.cyan(frames[this.frame])} ${step.label} ${this.c.dim(seconds(Date.now() - step.started))}`,
    );
  }

  detail(step: Step, line: string): void {
    if (this.quiet) return;
    if (this.tty) {
      this.clearLine();
      this.stream.write(this.c.dim(`  ${line}`) + '\n');
      this.redraw();
    } else {
      this.closePlainLine();
      this.stream.write(`  | ${line}\n`);
    }
    void step;
  }

  end(step: Step, ok: boolean, note?: string): void {
    if (step.ended) return;
    step.ended = true;
    if (this.current === step) {
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
    }
    if (this.quiet) return;
    const took = seconds(Date.now() - step.started);
    const extra = note ? ` (${note})` : '';
    if (this.tty) {
      this.clearLine();
      const mark = ok ? this.c.green('✔') : this.c.red('✖');
      this.stream.write(`${mark} ${step.label}${extra} ${this.c.dim(took)}\n`);
    } else if (step.lineOpen) {
      this.stream.write(` ${ok ? (note ?? 'done') : `failed${extra}`} (${took})\n`);
      step.lineOpen = false;
    } else {
      this.stream.write(`${step.label}: ${ok ? (note ?? 'done') : `failed${extra}`} (${took})\n`);
    }
  }

  /** Stops drawing the running step (before a question); redraw() or its end resumes. */
  pause(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clearLine();
    this.closePlainLine();
  }

  /** Ends the running step as done (before printing anything else, or exiting). */
  stop(): void {
    if (this.current && !this.current.ended) this.current.done();
  }

  private clearLine(): void {
    if (this.tty) this.stream.write('\r\x1b[K');
  }

  private closePlainLine(): void {
    if (this.current?.lineOpen) {
      this.stream.write('\n');
      this.current.lineOpen = false;
    }
  }
}
