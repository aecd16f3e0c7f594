// An AsyncAPI in the local environment (issue 18, docs/async.md): `cortex deploy` of
// examples/async-text-stats, POST through the gateway answers an id at once, GET <endpoint>/<id>
// goes in_queue/in_progress -> completed with the result. Run once with the supervisor's
// redis-server and once with the embedded queue (CORTEX_LOCAL_QUEUE=embedded, as without redis-server).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { copyProject, localEnv, type LocalEnv } from './helpers/local.ts';
import { redisMissing } from './helpers/redis-server.ts';
import { postJson } from './helpers/serve.ts';
import { waitFor } from './helpers/wait.ts';

for (const queue of ['redis-server', 'embedded'] as const) {
  describe(
    `local environment: an AsyncAPI on the ${queue} queue`,
    {
      concurrency: false,
      skip: queue === 'redis-server' ? redisMissing : undefined,
    },
    () => {
      let local: LocalEnv;
      let project: string;
      before(async () => {
        local = await localEnv();
        if (queue === 'embedded') local.env.CORTEX_LOCAL_QUEUE = 'embedded';
        project = copyProject('examples/async-text-stats');
      });
      after(async () => {
        await local?.cleanup();
        rmSync(project, { recursive: true, force: true });
      });

      test('cortex deploy runs it; POST answers an id at once; GET answers the result once done', async () => {
        const deployed = await local.cortex(['deploy', project]);
        assert.equal(deployed.code, 0, deployed.stderr);
        const started = Date.now();
        const posted = await postJson(local.url('/text-stats'), { text: 'a queued request' });
        assert.equal(posted.status, 200);
        const { id } = (await posted.json()) as { id: string };
        assert.ok(Date.now() - started < 2500, 'answered before the 3 s predictor finished');
        const first = (await (await fetch(local.url(`/text-stats/${id}`))).json()) as { status: string };
        assert.ok(['in_queue', 'in_progress'].includes(first.status), first.status);
        const done = await waitFor(
          'the result',
          async () => {
            const body = (await (await fetch(local.url(`/text-stats/${id}`))).json()) as {
              status: string;
              result?: unknown;
            };
            return body.status === 'completed' ? body : undefined;
          },
          60_000,
        );
        assert.deepEqual(done.result, { words: 3, characters: 16, longest_word: 'request' });
        const log = await local.cortex(['logs', 'text-stats']);
        const scheme = queue === 'embedded' ? 'http' : 'redis';
        assert.match(
          log.stdout + log.stderr,
          new RegExp(`taking text-stats's requests from the queue at ${scheme}://`),
        );
        const missing = await fetch(local.url('/text-stats/not-an-id'));
        assert.equal(missing.status, 404);
        assert.match(((await missing.json()) as { error: string }).error, /never queued here, or its result expired/);
      });
    },
  );
}
