// The node's model cache against a real HTTP server on loopback: LRU eviction under the size cap,
// and what a running replica uses is never evicted.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseStorageUri, type HttpUri } from '../../operator/api/v1alpha1/index.ts';
import { JsonLogger } from '../../operator/util/log.ts';
import { startFileServer, type FileServer } from '../../test/helpers/storage-servers.ts';
import { cachedModel } from './cache.ts';
import { httpSource } from './sources.ts';

let web: FileServer;
const lines: string[] = [];
const logger = new JsonLogger({ sink: (chunk) => lines.push(chunk) });

before(async () => {
  web = await startFileServer();
  for (const n of [1, 2, 3]) web.files.set(`/m${n}.bin`, Buffer.alloc(1000, n));
});
after(() => web.stop());

async function fetchModel(root: string, n: number, maxBytes: number, inUseMs?: number) {
  const uri = `${web.url}/m${n}.bin`;
  const source = httpSource(parseStorageUri(uri) as HttpUri);
  return cachedModel(uri, source, await source.list(), { root, maxBytes, logger, inUseMs });
}

const aged = (local: string, hoursAgo: number) => {
  const t = new Date(Date.now() - hoursAgo * 3_600_000);
  utimesSync(path.join(path.dirname(path.dirname(local)), '.cortex-used'), t, t);
};

test('over the cap, the least recently used model goes; asked for again, it is downloaded again', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'cortex-model-cache-'));
  try {
    const m1 = await fetchModel(root, 1, 2500, 60_000);
    const m2 = await fetchModel(root, 2, 2500, 60_000);
    aged(m1.local, 2);
    aged(m2.local, 1);
    const m3 = await fetchModel(root, 3, 2500, 60_000);
    assert.equal(existsSync(m1.local), false, 'the least recently used model was evicted');
    assert.ok(existsSync(m2.local) && existsSync(m3.local));
    assert.ok(lines.some((l) => l.includes(`evicted cached model ${m1.key}`)));
    const again = await fetchModel(root, 1, 2500, 60_000);
    assert.equal(again.downloaded, true);
    assert.equal(web.requests.filter((r) => r.path === '/m1.bin' && r.method === 'GET').length, 2);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('models in use are kept even over the cap, with a warning', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'cortex-model-cache-'));
  try {
    const m1 = await fetchModel(root, 1, 1500);
    const m2 = await fetchModel(root, 2, 1500);
    assert.ok(existsSync(m1.local) && existsSync(m2.local));
    assert.ok(lines.some((l) => /the cache of cached model holds .* all of it in use/.test(l)));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
