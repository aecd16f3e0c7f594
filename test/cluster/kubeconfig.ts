// Kubeconfig files with the certificates embedded, so a copy works anywhere on this machine.
import { readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

const b64 = (file: string) => readFileSync(file).toString('base64');

export function writeKubeconfig(
  file: string,
  server: string,
  caCert: string,
  client: { cert: string; key: string },
  user: string,
): void {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'cortex-test', cluster: { server, 'certificate-authority-data': b64(caCert) } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(client.cert), 'client-key-data': b64(client.key) } }],
    contexts: [{ name: 'cortex-test', context: { cluster: 'cortex-test', user, namespace: 'default' } }],
    'current-context': 'cortex-test',
    preferences: {},
  };
  writeFileSync(file, stringify(config), { mode: 0o600 });
}
