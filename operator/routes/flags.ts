// The operator's route flags (the chart's `routes` values render them): which kind of route,
// which Gateway, which hostnames, the Ingress's class, TLS Secret and annotations.

import { Option, type Command } from 'commander';
import type { RouteConfig } from './desired.ts';

export interface RouteFlags {
  routes: 'none' | 'gateway' | 'ingress';
  gatewayName?: string;
  gatewayNamespace?: string;
  gatewaySectionName?: string;
  routeHostname: string[];
  ingressClass?: string;
  ingressTlsSecret?: string;
  ingressNginx: boolean;
  ingressAnnotation: string[];
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function addRouteOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--routes <kind>',
        "each API's networking.endpoint as a Gateway API HTTPRoute (gateway), an Ingress (ingress), or nothing (none)",
      )
        .choices(['none', 'gateway', 'ingress'])
        .default('none'),
    )
    .option('--gateway-name <name>', 'with --routes gateway: the Gateway every HTTPRoute attaches to')
    .option('--gateway-namespace <namespace>', 'its namespace')
    .option('--gateway-section-name <listener>', 'one listener of it (default: every listener that admits the route)')
    .option(
      '--route-hostname <host>',
      'a hostname of every route (repeat for more); the first makes the URL',
      collect,
      [],
    )
    .option('--ingress-class <name>', "with --routes ingress: spec.ingressClassName (default: the cluster's default)")
    .option(
      '--ingress-tls-secret <name>',
      "a kubernetes.io/tls Secret in each API's namespace: HTTPS for the hostnames",
    )
    .option(
      '--no-ingress-nginx',
      "no ingress-nginx annotations and regex path (give your controller's with --ingress-annotation)",
    )
    .option('--ingress-annotation <key=value>', 'an annotation of every Ingress (repeat for more)', collect, []);
}

/** The route configuration the flags describe; an Error naming the flag when they do not fit together. */
export function routeConfigFromFlags(flags: RouteFlags): RouteConfig | undefined {
  const hostnames = flags.routeHostname;
  switch (flags.routes) {
    case 'none':
      return undefined;
    case 'gateway': {
      if (!flags.gatewayName || !flags.gatewayNamespace)
        throw new Error(
          '--routes gateway needs --gateway-name and --gateway-namespace ' +
            '(chart values routes.gateway.name and .namespace)',
        );
      return {
        kind: 'gateway',
        gateway: { name: flags.gatewayName, namespace: flags.gatewayNamespace, sectionName: flags.gatewaySectionName },
        hostnames,
      };
    }
    case 'ingress': {
      const annotations: Record<string, string> = {};
      for (const a of flags.ingressAnnotation) {
        const eq = a.indexOf('=');
        if (eq <= 0) throw new Error(`--ingress-annotation "${a}" is not key=value`);
        annotations[a.slice(0, eq)] = a.slice(eq + 1);
      }
      if (flags.ingressTlsSecret && hostnames.length === 0)
        throw new Error('--ingress-tls-secret needs --route-hostname: a certificate is for named hosts');
      return {
        kind: 'ingress',
        className: flags.ingressClass,
        hostnames,
        tlsSecretName: flags.ingressTlsSecret,
        nginx: flags.ingressNginx,
        annotations,
      };
    }
  }
}
