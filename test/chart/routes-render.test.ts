// The chart's routes values, rendered by the real helm and read back by the operator's own flag
// parser (operator/routes/flags.ts): what the admin writes in values is what the operator routes.
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';
import { addRouteOptions, routeConfigFromFlags, type RouteFlags } from '../../operator/routes/flags.ts';
import { ensureBinaries } from '../cluster/build.ts';

interface Rendered {
  kind?: string;
  spec: { template: { spec: { containers: { args: string[] }[] } } };
}

const CHART = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'charts', 'cortex');

describe('the chart renders the routes values as the operator reads them', () => {
  let helmBin: string;
  before(async () => {
    helmBin = (await ensureBinaries()).helm;
  });
  const helm = (args: string[]) =>
    execa(helmBin, ['template', 'cortex', CHART, '-n', 'cortex-system', ...args], {
      reject: false,
      env: { HELM_CONFIG_HOME: '/nonexistent', KUBECONFIG: '/nonexistent' },
    });
  /** The route configuration the operator gets from the rendered Deployment's args. */
  const configOf = async (...set: string[]) => {
    const r = await helm(set.flatMap((s) => ['--set', s]));
    assert.equal(r.exitCode, 0, r.stderr);
    const deployment = parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as Rendered)
      .find((o) => o?.kind === 'Deployment')!;
    const args = deployment.spec.template.spec.containers[0].args.filter((a) =>
      /^--(routes|gateway|route-|ingress|no-ingress)/.test(a),
    );
    const cmd = addRouteOptions(new Command()).exitOverride();
    cmd.parse(args, { from: 'user' });
    return routeConfigFromFlags(cmd.opts<RouteFlags>());
  };

  test('routes.kind none (the default): no routes', async () => {
    assert.equal(await configOf(), undefined);
  });

  test('a Gateway with a listener and hostnames', async () => {
    assert.deepEqual(
      await configOf(
        'routes.kind=gateway',
        'routes.gateway.name=public',
        'routes.gateway.namespace=gateway-system',
        'routes.gateway.sectionName=https',
        'routes.hostnames={api.example.com,*.example.org}',
      ),
      {
        kind: 'gateway',
        gateway: { name: 'public', namespace: 'gateway-system', sectionName: 'https' },
        hostnames: ['api.example.com', '*.example.org'],
      },
    );
  });

  test('an Ingress with its class, TLS Secret, annotations and nginx off', async () => {
    assert.deepEqual(
      await configOf(
        'routes.kind=ingress',
        'routes.hostnames={models.example.com}',
        'routes.ingress.className=traefik',
        'routes.ingress.tlsSecretName=models-tls',
        'routes.ingress.nginx=false',
        'routes.ingress.annotations.cert-manager\\.io/cluster-issuer=letsencrypt',
      ),
      {
        kind: 'ingress',
        className: 'traefik',
        hostnames: ['models.example.com'],
        tlsSecretName: 'models-tls',
        nginx: false,
        annotations: { 'cert-manager.io/cluster-issuer': 'letsencrypt' },
      },
    );
  });

  test('kind gateway without a Gateway is refused by values.schema.json', async () => {
    const r = await helm(['--set', 'routes.kind=gateway']);
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /routes/);
  });
});
