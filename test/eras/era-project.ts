// What the era scenario tests (test/eras/v0_*.test.ts) share: the projects written in each Cortex
// release's format (test/eras/fixtures/v0_NN/<project>), deployed to one private local
// environment per test file, and answers read as status, media type and body.
import assert from 'node:assert/strict';
import path from 'node:path';
import { localEnv, type LocalEnv } from '../helpers/local.ts';
import { repoRoot } from '../helpers/serve.ts';

export interface Era {
  local: LocalEnv;
  /** `cortex deploy fixtures/<era>/<project>`; fails the test unless it exits 0. Returns stderr (the warnings). */
  deploy(project: string): Promise<string>;
  /** A request to the local environment's port; `target` is the endpoint with any query. */
  ask(target: string, init?: RequestInit): Promise<Answer>;
  cleanup(): Promise<void>;
}

export interface Answer {
  status: number;
  /** The Content-Type without its parameters ('text/plain', not 'text/plain; charset=utf-8'). */
  type: string;
  text: string;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the projects' JSON answers, read field by field
  json(): any;
}

export function fixture(era: string, project: string): string {
  return path.join(repoRoot, 'test', 'eras', 'fixtures', era, project);
}

export async function eraEnvironment(era: string): Promise<Era> {
  const local = await localEnv();
  return {
    local,
    async deploy(project) {
      const r = await local.cortex(['deploy', fixture(era, project)]);
      assert.equal(r.code, 0, `cortex deploy ${era}/${project} failed:\n${r.stderr}`);
      return r.stderr;
    },
    async ask(target, init) {
      const res = await fetch(local.url(target), init);
      const text = await res.text();
      return {
        status: res.status,
        type: (res.headers.get('content-type') ?? '').split(';')[0].trim(),
        text,
        headers: res.headers,
        json: () => JSON.parse(text) as unknown,
      };
    },
    cleanup: () => local.cleanup(),
  };
}

/** A POST of `body` (a JSON value unless a string or bytes) with the given Content-Type (null: none). */
export function post(body: unknown, contentType: string | null = 'application/json', headers = {}): RequestInit {
  const raw: string | Uint8Array<ArrayBuffer> =
    typeof body === 'string' ? body : body instanceof Uint8Array ? new Uint8Array(body) : JSON.stringify(body);
  return {
    method: 'POST',
    headers: { ...(contentType === null ? {} : { 'Content-Type': contentType }), ...headers },
    body: raw,
  };
}

/** The three iris measurements every era's classifier is asked about, with the label each must get. */
export const IRIS_SAMPLES: [Record<string, number>, string][] = [
  [{ sepal_length: 5.1, sepal_width: 3.4, petal_length: 1.4, petal_width: 0.2 }, 'setosa'],
  [{ sepal_length: 6.4, sepal_width: 3.2, petal_length: 4.5, petal_width: 1.5 }, 'versicolor'],
  [{ sepal_length: 6.9, sepal_width: 3.1, petal_length: 5.4, petal_width: 2.1 }, 'virginica'],
];
