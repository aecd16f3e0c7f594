// The cold-start bench's samples and how they are summed up: median and max per environment,
// API and scenario, in the order they were first measured.

export interface Fixture {
  api: string;
  /** The fixture folder (bench/fixtures/<name>). */
  dir: string;
  /** The request body, JSON. */
  body: string;
}

export interface Sample {
  env: 'local' | 'cluster';
  api: string;
  scenario: string;
  ms: number;
  /** Where the time went (cluster wake-ups), ms per step in order. */
  steps?: Record<string, number>;
}

export interface Summary {
  env: string;
  api: string;
  scenario: string;
  n: number;
  medianMs: number;
  maxMs: number;
  /** Median of each step over the samples that have it. */
  steps?: Record<string, number>;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function summarize(samples: Sample[]): Summary[] {
  const groups = new Map<string, Sample[]>();
  for (const s of samples) {
    const key = `${s.env}\0${s.api}\0${s.scenario}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.values()].map((g) => {
    const withSteps = g.filter((s) => s.steps !== undefined);
    const names = [...new Set(withSteps.flatMap((s) => Object.keys(s.steps!)))];
    return {
      env: g[0].env,
      api: g[0].api,
      scenario: g[0].scenario,
      n: g.length,
      medianMs: median(g.map((s) => s.ms)),
      maxMs: Math.max(...g.map((s) => s.ms)),
      ...(names.length > 0
        ? {
            steps: Object.fromEntries(
              names.map((n) => [n, median(withSteps.flatMap((s) => (n in s.steps! ? [s.steps![n]] : [])))]),
            ),
          }
        : {}),
    };
  });
}

const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The results table (Markdown, as docs/cold-start.md shows it) and each breakdown under it. */
export function formatSummaries(summaries: Summary[]): string {
  const lines = ['| where | API | from → first answer | n | median | max |', '|---|---|---|--:|--:|--:|'];
  for (const s of summaries) {
    lines.push(`| ${s.env} | ${s.api} | ${s.scenario} | ${s.n} | ${sec(s.medianMs)} | ${sec(s.maxMs)} |`);
  }
  for (const s of summaries.filter((x) => x.steps !== undefined)) {
    lines.push('', `${s.env} ${s.api}, ${s.scenario}: where the time went (median ms of each step)`);
    for (const [name, ms] of Object.entries(s.steps!)) lines.push(`  ${name.padEnd(58)} ${Math.round(ms)}`);
  }
  return lines.join('\n');
}
