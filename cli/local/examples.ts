// The ready-to-run curl line shown after a deploy and by `cortex get API`.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { shellQuote } from '../output.ts';

/** `curl <url> -X POST ... -d @sample.json` (the project's sample.json when it has one). */
export function curlExample(url: string, projectDir: string | undefined): string {
  const sample = projectDir ? path.join(projectDir, 'sample.json') : undefined;
  let data = `'{}'`;
  if (sample && existsSync(sample)) {
    const rel = path.relative(process.cwd(), sample);
    data = shellQuote(`@${rel.startsWith('..') || path.isAbsolute(rel) ? sample : rel}`);
  }
  return `curl ${url} -X POST -H 'Content-Type: application/json' -d ${data}`;
}
