// What the storage tests (test/storage*.test.ts) share: a project whose predictor.models is a
// storage URI, with its private model cache; the predictor's answer; a .tar.gz; the servers.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { postJson, repoRoot, type Served } from './serve.ts';

export const storagePredictor = path.join(repoRoot, 'test', 'fixtures', 'storage', 'predictor.py');
export type Cleanups = (() => Promise<void> | void)[];

/** A project whose one API (`stored`) has predictor.models `models`, and a private model cache. */
export function storageProject(
  cleanups: Cleanups,
  models: Record<string, unknown>,
  type = 'python',
  predictorFile = storagePredictor,
): { dir: string; env: Record<string, string> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'cortex-storage-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(predictorFile, path.join(dir, 'predictor.py'));
  const yaml = [
    '- name: stored',
    '  kind: RealtimeAPI',
    '  predictor:',
    `    type: ${type}`,
    '    path: predictor.py',
    `    models: ${JSON.stringify(models)}`,
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'cortex.yaml'), yaml);
  return { dir, env: { CORTEX_MODEL_CACHE_DIR: path.join(dir, '.cache') } };
}

/** What the fixture predictor loaded: file name → its text (or its size and digest). */
export async function loadedModel(s: Served): Promise<Record<string, string>> {
  const r = await postJson(s.url, {});
  assert.equal(r.status, 200, await r.clone().text());
  return ((await r.json()) as { model: Record<string, string> }).model;
}

export async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  for (const [name, body] of Object.entries(files)) p.entry({ name }, body);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

/** Starts them all; any that started is stopped by `cleanups` even when another failed. */
export async function startAll<T extends readonly (() => Promise<{ stop(): Promise<void> }>)[]>(
  cleanups: Cleanups,
  starts: T,
): Promise<{ -readonly [K in keyof T]: Awaited<ReturnType<T[K]>> }> {
  const started = await Promise.allSettled(starts.map((s) => s()));
  for (const s of started) if (s.status === 'fulfilled') cleanups.push(() => s.value.stop());
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  return started.map((s) => (s as PromiseFulfilledResult<unknown>).value) as never;
}
