import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matches, parseSelector } from './selector.ts';

const pod = { 'cortex.dev/api': 'iris', 'pod-template-hash': 'abc', tier: 'gpu', rank: '3' };
const m = (s: string, labels: Record<string, string> = pod) => matches(parseSelector(s), labels);

test('equality and inequality, as the HPA sends them (the Deployment selector)', () => {
  assert.equal(m('cortex.dev/api=iris'), true);
  assert.equal(m('cortex.dev/api==iris'), true);
  assert.equal(m('cortex.dev/api=other'), false);
  assert.equal(m('cortex.dev/api!=other'), true);
  assert.equal(m('cortex.dev/api!=iris'), false);
  assert.equal(m('missing!=x'), true, '!= matches pods without the label');
  assert.equal(m('cortex.dev/api=iris,tier=gpu'), true, 'every requirement must hold');
  assert.equal(m('cortex.dev/api=iris, tier=cpu'), false);
  assert.equal(m(''), true, 'the empty selector selects everything');
});

test('set-based requirements, existence and numeric comparisons', () => {
  assert.equal(m('tier in (cpu, gpu)'), true);
  assert.equal(m('tier in (cpu)'), false);
  assert.equal(m('tier notin (cpu)'), true);
  assert.equal(m('missing notin (cpu)'), true);
  assert.equal(m('tier'), true);
  assert.equal(m('!tier'), false);
  assert.equal(m('!missing'), true);
  assert.equal(m('rank>2'), true);
  assert.equal(m('rank<3'), false);
  assert.equal(m('tier>1'), false, 'a label that is not a number never compares');
  assert.equal(m('empty='), false);
  assert.equal(m('empty=', { empty: '' }), true);
  assert.equal(m('empty in (,x)', { empty: '' }), true);
});

test('malformed selectors are errors that say what is wrong, never "match all"', () => {
  for (const [s, re] of [
    ['a=b,', /end with ","/],
    ['a in b', /expected "\(" after in/],
    ['a in (b c)', /expected "," or "\)"/],
    ['a==', /./],
    ['a=b=c', /expected ","/],
    ['-bad=x', /invalid label key "-bad"/],
    ['Bad.Prefix/x=y', /invalid label key/],
    ['a=' + 'v'.repeat(64), /invalid label value/],
    ['rank>two', /whole number/],
    ['(', /expected a label key, got "\("/],
  ] as const) {
    if (s === 'a==') {
      assert.equal(m(s, { a: '' }), true, 'a== is a valid "empty value"');
      continue;
    }
    assert.throws(() => parseSelector(s), re, s);
  }
});
