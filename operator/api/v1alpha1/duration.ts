// Go-style durations (time.ParseDuration), as Cortex wrote them: '100ms', '1.5s', '5m', '1h30m'.

/** Pattern for a non-negative Go duration; valid in a CRD schema. */
export const DURATION_PATTERN = '^(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$';

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const WHOLE = new RegExp(DURATION_PATTERN);
const PART = /([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)/g;

/**
 * Parses a Go duration string into milliseconds: '100ms' → 100, '1.5s' → 1500, '5m' → 300000,
 * '1h30m' → 5400000, '0' → 0. A unit is required on every number; negative values are rejected.
 * Throws an Error for anything else.
 */
export function parseDurationMs(d: string): number {
  if (typeof d !== 'string' || !WHOLE.test(d)) {
    throw new Error(`${JSON.stringify(d)} is not a valid duration (examples: 100ms, 1.5s, 60s, 5m, 1h30m)`);
  }
  if (d === '0') return 0;
  let ms = 0;
  for (const m of d.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2]];
  return Math.round(ms * 1e6) / 1e6;
}
