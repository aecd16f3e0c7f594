// The CustomResourceDefinition around a kind's TypeBox spec and status: one namespaced, served and
// stored version with the status subresource, in the cortex category. generate-crd.ts (RealtimeAPI)
// and generate-splitter-crd.ts (TrafficSplitter) differ only in what they pass here.
import { GROUP, VERSION } from './v1alpha1/groupversion.ts';

export interface CrdDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: readonly string[];
  /** What `kubectl get` shows (the version's additionalPrinterColumns). */
  printerColumns: Record<string, unknown>[];
  /** The resource's own description. */
  description: string;
  spec: unknown;
  status: unknown;
  /** CEL rules on the whole object (e.g. on metadata.name). */
  rules?: Record<string, unknown>[];
}

/** The schema as JSON: TypeBox's symbol keys drop out, what is left is what the API server reads. */
const wire = (schema: unknown) => JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;

export function customResourceDefinition(d: CrdDefinition): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${d.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: d.kind,
        listKind: `${d.kind}List`,
        plural: d.plural,
        singular: d.singular,
        shortNames: [...d.shortNames],
        categories: ['cortex'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: d.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: d.description,
              required: ['spec'],
              properties: {
                apiVersion: {
                  type: 'string',
                  description: 'APIVersion defines the versioned schema of this representation of an object.',
                },
                kind: {
                  type: 'string',
                  description: 'Kind is a string value representing the REST resource this object represents.',
                },
                metadata: { type: 'object' },
                spec: wire(d.spec),
                status: wire(d.status),
              },
              ...(d.rules ? { 'x-kubernetes-validations': d.rules } : {}),
            },
          },
        },
      ],
    },
  };
}
