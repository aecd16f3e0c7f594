// kind: TrafficSplitter in cortex.yaml: Cortex's format read into the TrafficSplitter spec, and
// each mistake refused with the file, the splitter, the field and the fix.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectIssue, failing, project } from './fixtures.ts';
import { loadProject } from './load.ts';

const api = (name: string) =>
  `- name: ${name}\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n`;
const splitter = (apis: string, extra = '') => `- name: sentiment\n  kind: TrafficSplitter\n${extra}  apis:\n${apis}`;

test('a splitter in Cortex 0.42 format loads with its defaults', () => {
  const yaml =
    api('iris') +
    api('iris-v2') +
    api('iris-v3') +
    splitter(
      '    - name: iris\n      weight: 90\n    - name: iris-v2\n      weight: 10\n' +
        '    - name: iris-v3\n      weight: 0\n      shadow: true\n',
    );
  const loaded = loadProject(project({ 'cortex.yaml': yaml, 'predictor.py': '' }));
  assert.equal(loaded.apis.length, 3);
  assert.deepEqual(loaded.splitters, [
    {
      name: 'sentiment',
      kind: 'TrafficSplitter',
      line: 16,
      spec: {
        networking: { endpoint: '/sentiment' },
        apis: [
          { name: 'iris', weight: 90, shadow: false },
          { name: 'iris-v2', weight: 10, shadow: false },
          { name: 'iris-v3', weight: 0, shadow: true },
        ],
      },
    },
  ]);
});

test('weights that do not sum to 100 are refused, naming the weights and the fix', () => {
  const err = failing(api('iris') + splitter('    - name: iris\n      weight: 90\n    - name: b\n      weight: 5\n'));
  expectIssue(err, {
    line: 9,
    field: 'apis',
    api: 'sentiment',
    message: /sum to 95, not 100 \(iris: 90, b: 5\)/,
    fix: /sum to 100/,
  });
});

test('two shadows are refused at the second one', () => {
  const err = failing(
    splitter(
      '    - name: a\n      weight: 100\n    - name: b\n      weight: 0\n      shadow: true\n' +
        '    - name: c\n      weight: 0\n      shadow: true\n',
    ),
  );
  expectIssue(err, {
    line: 11,
    field: 'apis.2.shadow',
    api: 'sentiment',
    message: /more than one shadow \(b, c\)/,
    fix: /one API only/,
  });
});

test('an endpoint an API of the file already has is refused', () => {
  const err = failing(
    api('iris') + splitter('    - name: iris\n      weight: 100\n', '  networking:\n    endpoint: /iris\n'),
  );
  expectIssue(err, {
    line: 9,
    field: 'networking.endpoint',
    api: 'sentiment',
    message: /\/iris is already used by "iris"/,
    fix: /no API or other splitter uses/,
  });
});

test('missing and mistyped fields', () => {
  const err = failing(splitter('    - name: a\n      weigth: 100\n'));
  expectIssue(err, {
    line: 5,
    field: 'apis.0.weigth',
    api: 'sentiment',
    message: /unknown field "weigth"/,
    fix: /allowed: name, weight, shadow/,
  });
  expectIssue(err, { line: 4, field: 'apis.0.weight', api: 'sentiment', message: /is required/ });
  const none = failing('- name: s\n  kind: TrafficSplitter\n');
  expectIssue(none, { line: 1, field: 'apis', api: 's', message: /is required/, fix: /weight: 90/ });
});
