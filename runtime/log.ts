// JSON logs, one object per line, the same shape the Python host and the TypeScript threads
// write (see PROTOCOL.md), so one stream can be parsed as a whole. Lines are buffered and
// written once per event-loop turn: per-request access logs must not cost a syscall each.

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40 };

export interface LogFields {
  request_id?: string | null;
  [key: string]: unknown;
}

export class Logger {
  readonly api: string;
  private readonly threshold: number;
  private readonly sink: (chunk: string) => void;
  private pending = '';
  private scheduled = false;

  constructor(api: string, level: LogLevel = 'info', sink?: (chunk: string) => void) {
    this.api = api;
    this.threshold = rank[level];
    this.sink = sink ?? ((chunk) => process.stdout.write(chunk));
  }

  enabled(level: LogLevel): boolean {
    return rank[level] >= this.threshold;
  }

  debug(message: string, fields?: LogFields): void {
    this.log('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }
  warning(message: string, fields?: LogFields): void {
    this.log('warning', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }

  log(level: LogLevel, message: string, fields?: LogFields): void {
    if (rank[level] < this.threshold) return;
    const line = JSON.stringify({
      time: new Date().toISOString(),
      level,
      api: this.api,
      request_id: null,
      ...fields,
      message,
    });
    this.pending += line + '\n';
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
