import { test } from 'node:test';
import assert from 'node:assert/strict';
import { levenshtein, suggest } from './suggest.ts';

test('levenshtein', () => {
  assert.equal(levenshtein('kitten', 'sitting'), 3);
  assert.equal(levenshtein('', 'abc'), 3);
  assert.equal(levenshtein('abc', 'abc'), 0);
  assert.equal(levenshtein('min_replica', 'min_replicas'), 1);
});

test('suggest picks a close candidate, or none', () => {
  const fields = ['min_replicas', 'max_replicas', 'init_replicas', 'window'];
  assert.equal(suggest('min_replica', fields), 'min_replicas');
  assert.equal(suggest('minReplicas', fields), 'min_replicas', 'camelCase spelling of a snake_case field');
  assert.equal(suggest('max-replicas', fields), 'max_replicas');
  assert.equal(suggest('windw', fields), 'window');
  assert.equal(suggest('colour', fields), undefined);
  assert.equal(suggest('RealtimeApi', ['RealtimeAPI', 'BatchAPI']), 'RealtimeAPI');
  assert.equal(suggest('pyhton', ['python', 'typescript']), 'python');
});
