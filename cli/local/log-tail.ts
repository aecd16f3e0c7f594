// Reading a growing log file line by line (`cortex logs -f` locally: a replica's log, a job's job.log).
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export class Tail {
  readonly replica: string;
  readonly file: string;
  offset = 0;
  private partial = '';
  constructor(replica: string, file: string) {
    this.replica = replica;
    this.file = file;
  }

  /** Complete lines written since the last call. */
  read(): string[] {
    let size: number;
    try {
      size = statSync(this.file).size;
    } catch {
      return [];
    }
    if (size < this.offset) this.offset = 0;
    if (size === this.offset) return [];
    const fd = openSync(this.file, 'r');
    try {
      const buffer = Buffer.alloc(size - this.offset);
      const n = readSync(fd, buffer, 0, buffer.length, this.offset);
      this.offset += n;
      const text = this.partial + buffer.subarray(0, n).toString('utf8');
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      return lines;
    } finally {
      closeSync(fd);
    }
  }

  /** The last line, when the file does not end with a newline (read once the writer is done). */
  rest(): string[] {
    const last = this.partial;
    this.partial = '';
    return last === '' ? [] : [last];
  }
}
