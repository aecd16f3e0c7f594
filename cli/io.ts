// The streams a command talks through (gh's iostreams): stdout for data, stderr for
// diagnostics, stdin for request bodies and answers to questions, with whether each is a
// terminal and whether colours are allowed. `systemIO()` is the process's; `testIO()` captures
// everything into strings so commands can be tested in-process.
import { createInterface } from 'node:readline/promises';
import { Readable } from 'node:stream';
import { Chalk, type ChalkInstance } from 'chalk';

/** Somewhere to write: a process stream, or a buffer in tests. */
export interface Sink {
  write(chunk: string | Uint8Array): unknown;
  readonly isTTY?: boolean;
}

export interface IOStreams {
  readonly stdin: AsyncIterable<string | Buffer> & { readonly isTTY?: boolean };
  readonly stdout: Sink;
  readonly stderr: Sink;
  /** Colours may be used on a terminal (false when NO_COLOR is set). */
  readonly colorEnabled: boolean;
  /** Spinners may redraw a line (a terminal whose TERM is not dumb). */
  readonly canRedraw: boolean;
  /** Asks a question on stderr and reads the answer (only called when stdin and stderr are terminals). */
  prompt(question: string): Promise<string>;
}

export function isTty(stream: { readonly isTTY?: boolean }): boolean {
  return stream.isTTY === true;
}

/** Colours for one of the streams: none when it is not a terminal, or colours are off. */
export function colorsOf(io: IOStreams, stream: 'stdout' | 'stderr'): ChalkInstance {
  return new Chalk({ level: io.colorEnabled && isTty(io[stream]) ? 1 : 0 });
}

const line = (text: string) => (text.endsWith('\n') ? text : text + '\n');

/** A line of data on stdout (a newline added when missing). */
export function printOut(io: IOStreams, text: string): void {
  io.stdout.write(line(text));
}

/** A line of diagnostics on stderr (a newline added when missing). */
export function printErr(io: IOStreams, text: string): void {
  io.stderr.write(line(text));
}

export function systemIO(): IOStreams {
  const noColor = process.env.NO_COLOR;
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    colorEnabled: noColor === undefined || noColor === '',
    canRedraw: isTty(process.stderr) && process.env.TERM !== 'dumb',
    async prompt(question) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    },
  };
}

/** A sink that keeps what is written. */
export class BufferSink implements Sink {
  readonly isTTY: boolean;
  private readonly chunks: Buffer[] = [];
  constructor(isTTY: boolean) {
    this.isTTY = isTTY;
  }
  write(chunk: string | Uint8Array): boolean {
    this.chunks.push(Buffer.from(chunk));
    return true;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

export interface TestIO extends IOStreams {
  readonly stdout: BufferSink;
  readonly stderr: BufferSink;
  /** What was written to stdout so far. */
  out(): string;
  /** What was written to stderr so far. */
  err(): string;
  /** The questions asked through prompt(). */
  readonly questions: string[];
}

export interface TestIOOptions {
  /** stdout, stderr and stdin are terminals (default false); each can be set on its own. */
  tty?: boolean;
  stdoutTTY?: boolean;
  stderrTTY?: boolean;
  stdinTTY?: boolean;
  /** Colours allowed (default true: they then appear on the streams that are terminals). */
  color?: boolean;
  /** What stdin holds. */
  stdin?: string | Buffer;
  /** Answers to prompt(), in order (then ''). */
  answers?: string[];
}

/** IO for in-process tests: stdout and stderr go to strings; nothing is a terminal unless asked. */
export function testIO(options: TestIOOptions = {}): TestIO {
  const tty = options.tty ?? false;
  const stdout = new BufferSink(options.stdoutTTY ?? tty);
  const stderr = new BufferSink(options.stderrTTY ?? tty);
  const stdinTTY = options.stdinTTY ?? tty;
  const stdin = Object.assign(Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]), {
    isTTY: stdinTTY,
  });
  const answers = [...(options.answers ?? [])];
  const questions: string[] = [];
  return {
    stdin,
    stdout,
    stderr,
    colorEnabled: options.color ?? true,
    canRedraw: stderr.isTTY,
    prompt(question) {
      questions.push(question);
      stderr.write(question);
      return Promise.resolve(answers.shift() ?? '');
    },
    out: () => stdout.text(),
    err: () => stderr.text(),
    questions,
  };
}
