// Printing: data on stdout, diagnostics on stderr; colour and tables only on a terminal.
import { Chalk, type ChalkInstance } from 'chalk';
import { CliError, ExitCode } from './errors.ts';
import type { RecentRequests } from '../operator/metrics-adapter/request-stats.ts';

export type OutputFormat = 'pretty' | 'json';

export function outputFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'pretty') return 'pretty';
  if (value === 'json') return 'json';
  throw new CliError(`-o/--output must be pretty or json, got "${value}"`, ExitCode.Usage);
}

export function isTty(stream: { readonly isTTY?: boolean }): boolean {
  return stream.isTTY === true;
}

/** Colours for `stream`: none when it is not a terminal, or NO_COLOR is set. */
export function colors(stream: { readonly isTTY?: boolean }): ChalkInstance {
  const off = !isTty(stream) || (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '');
  return new Chalk({ level: off ? 0 : 1 });
}

export const out = (text: string): void => void process.stdout.write(text.endsWith('\n') ? text : text + '\n');
export const err = (text: string): void => void process.stderr.write(text.endsWith('\n') ? text : text + '\n');

const ansi = /\x1b\[[0-9;]*m/g;
const width = (s: string) => s.replace(ansi, '').length;

/** Columns padded to their widest cell; the header bold on a terminal. */
export function table(headers: string[], rows: string[][], c: ChalkInstance = colors(process.stdout)): string {
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(widths[i] - width(cell))))
      .join('   ')
      .trimEnd();
  return [c.bold(line(headers)), ...rows.map(line)].join('\n') + '\n';
}

/** 0.4s, 12.3s, 2m05s */
export function seconds(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** How long ago, kubectl-style: 12s, 5m, 3h, 2d. */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (iso === undefined) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) {
    const m = Math.floor((s % 3600) / 60);
    return `${Math.floor(s / 3600)}h${m > 0 ? `${m}m` : ''}`;
  }
  return `${Math.floor(s / 86400)}d`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** Quotes for a POSIX shell when needed. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A latency in milliseconds: "1.50 ms", "120 ms"; "-" when unknown. */
export const latency = (ms: number | undefined): string =>
  ms === undefined ? '-' : ms < 10 ? `${ms.toFixed(2)} ms` : `${Math.round(ms)} ms`;

/** 300 → "5m", 90 → "1m30s", 20 → "20s". */
export function duration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m === 0 ? `${s}s` : s === 0 ? `${m}m` : `${m}m${s}s`;
}

/** "12 requests, 8.3% 5XX, p50 1.20 ms, p99 4.50 ms" (cli/request-window.ts collects). */
export function recentText(r: RecentRequests): string {
  if (r.requests === 0) return 'no requests';
  const parts = [plural(Math.round(r.requests), 'request')];
  if (r.errorRatio !== undefined) parts.push(`${(r.errorRatio * 100).toFixed(1)}% 5XX`);
  parts.push(`p50 ${latency(r.p50Ms)}`, `p99 ${latency(r.p99Ms)}`);
  return parts.join(', ');
}
