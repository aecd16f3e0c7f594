// The one logger of the operator, the runtime and the CLI's supervisor: JSON, one object per
// line, `{"time", "level", ...context, ...fields, "message"}`, the shape the Python host and the
// TypeScript threads write too (runtime/PROTOCOL.md), so one stream parses as a whole. The levels
// are Python's and the RealtimeAPI's predictor.logLevel: debug, info, warning, error; the methods
// are the console's (warn() writes "level":"warning", as console.warn does in a TypeScript thread).
//
// - the operator: unbuffered, on stderr (operatorLogger);
// - the runtime and the supervisor: `api` and `request_id` on every line, on stdout, buffered and
//   written once per event-loop turn, since per-request access logs must not cost a syscall each
//   (apiLogger; flush() before the process exits).

export const LOG_LEVELS = ['debug', 'info', 'warning', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40 };

export interface LogFields {
  request_id?: string | null;
  [key: string]: unknown;
}

/** What code that logs needs (tests pass silentLogger or a fake). */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export interface JsonLoggerOptions {
  /** Lines below it are dropped. Default: info. */
  level?: LogLevel;
  /** Fields every line carries after time and level (the runtime's api and request_id). */
  context?: Record<string, unknown>;
  /** Where the lines go (whole lines, each ending in a newline). Default: stderr. */
  sink?: (chunk: string) => void;
  /** Collect the lines of one event-loop turn into one write. Default: false. */
  buffered?: boolean;
}

export class JsonLogger implements Logger {
  private readonly threshold: number;
  private readonly context: Record<string, unknown>;
  private readonly sink: (chunk: string) => void;
  private readonly buffered: boolean;
  private pending = '';
  private scheduled = false;

  constructor(options: JsonLoggerOptions = {}) {
    this.threshold = RANK[options.level ?? 'info'];
    this.context = options.context ?? {};
    this.sink = options.sink ?? ((chunk) => process.stderr.write(chunk));
    this.buffered = options.buffered ?? false;
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.threshold;
  }

  debug(message: string, fields?: LogFields): void {
    this.log('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.log('warning', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }

  log(level: LogLevel, message: string, fields?: LogFields): void {
    if (RANK[level] < this.threshold) return;
    this.writeLine(
      JSON.stringify({ time: new Date().toISOString(), level, ...this.context, ...fields, message }) + '\n',
    );
  }

  /**
   * Writes a line already in this logger's shape (the runtime's access log builds its own, see
   * runtime/access-log.ts); it must end in a newline.
   */
  writeLine(line: string): void {
    if (!this.buffered) {
      this.sink(line);
      return;
    }
    this.pending += line;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Write everything buffered now (also called before the process exits). */
  flush(): void {
    this.scheduled = false;
    if (this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    this.sink(chunk);
  }
}

/** The operator's logger: every line written at once on stderr. */
export function operatorLogger(level: LogLevel = 'info', sink?: (chunk: string) => void): JsonLogger {
  return new JsonLogger({ level, sink });
}

/** A replica's or the supervisor's logger: lines name the API (and the request), buffered, on stdout. */
export function apiLogger(api: string, level: LogLevel = 'info', sink?: (chunk: string) => void): JsonLogger {
  return new JsonLogger({
    level,
    context: { api, request_id: null },
    sink: sink ?? ((chunk) => process.stdout.write(chunk)),
    buffered: true,
  });
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
