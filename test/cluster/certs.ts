// The cluster's PKI, made with openssl: a CA, the API server's serving cert, client certs for
// the admin (system:masters), controller-manager and scheduler, a front-proxy CA and client
// (aggregated APIs) and the service-account key pair. The CA also signs CSRs (controller-manager).
import { execa } from 'execa';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  frontProxyCaCert: string;
  frontProxyClientCert: string;
  frontProxyClientKey: string;
  saKey: string;
  saPub: string;
  /** Client identities by name: cert and key files. */
  clients: Record<ClientName, { cert: string; key: string }>;
}

export type ClientName = 'admin' | 'kube-controller-manager' | 'kube-scheduler';

const CLIENTS: Record<ClientName, string> = {
  admin: '/O=system:masters/CN=cortex-test-admin',
  'kube-controller-manager': '/CN=system:kube-controller-manager',
  'kube-scheduler': '/CN=system:kube-scheduler',
};

/** Names the API server answers to (the first service IP of 10.96.0.0/12 included). */
export const APISERVER_SANS = [
  'IP:127.0.0.1',
  'IP:10.96.0.1',
  'DNS:localhost',
  'DNS:kubernetes',
  'DNS:kubernetes.default',
  'DNS:kubernetes.default.svc',
  'DNS:kubernetes.default.svc.cluster.local',
];

async function openssl(dir: string, args: string[]): Promise<void> {
  const r = await execa('openssl', args, { cwd: dir, reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${r.all}`);
}

async function key(dir: string, name: string): Promise<string> {
  const file = path.join(dir, `${name}.key`);
  await openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
  return file;
}

async function ca(dir: string, name: string, cn: string): Promise<{ cert: string; key: string }> {
  const k = await key(dir, name);
  const cert = path.join(dir, `${name}.crt`);
  await openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    k,
    '-subj',
    `/CN=${cn}`,
    '-days',
    '3650',
    '-out',
    cert,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign',
  ]);
  return { cert, key: k };
}

async function leaf(
  dir: string,
  name: string,
  subject: string,
  signer: { cert: string; key: string },
  ext: string[],
): Promise<{ cert: string; key: string }> {
  const k = await key(dir, name);
  const csr = path.join(dir, `${name}.csr`);
  const extFile = path.join(dir, `${name}.ext`);
  const cert = path.join(dir, `${name}.crt`);
  writeFileSync(
    extFile,
    ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', ...ext].join('\n') +
      '\n',
  );
  await openssl(dir, ['req', '-new', '-key', k, '-subj', subject, '-out', csr]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    signer.cert,
    '-CAkey',
    signer.key,
    '-CAcreateserial',
    '-days',
    '3650',
    '-extfile',
    extFile,
    '-out',
    cert,
  ]);
  return { cert, key: k };
}

export async function makePki(stateDir: string): Promise<Pki> {
  const dir = path.join(stateDir, 'pki');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const root = await ca(dir, 'ca', 'cortex-test-cluster-ca');
  const apiserver = await leaf(dir, 'apiserver', '/CN=kube-apiserver', root, [
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${APISERVER_SANS.join(',')}`,
  ]);
  const frontProxyCa = await ca(dir, 'front-proxy-ca', 'cortex-test-cluster-front-proxy-ca');
  const frontProxyClient = await leaf(dir, 'front-proxy-client', '/CN=front-proxy-client', frontProxyCa, [
    'extendedKeyUsage=clientAuth',
  ]);
  const clients = {} as Pki['clients'];
  for (const [name, subject] of Object.entries(CLIENTS) as [ClientName, string][]) {
    clients[name] = await leaf(dir, name, subject, root, ['extendedKeyUsage=clientAuth']);
  }
  const saKey = path.join(dir, 'sa.key');
  const saPub = path.join(dir, 'sa.pub');
  await openssl(dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', saKey]);
  await openssl(dir, ['pkey', '-in', saKey, '-pubout', '-out', saPub]);
  for (const f of [root.cert, apiserver.cert, saPub]) if (!existsSync(f)) throw new Error(`openssl did not write ${f}`);
  return {
    dir,
    caCert: root.cert,
    caKey: root.key,
    apiserverCert: apiserver.cert,
    apiserverKey: apiserver.key,
    frontProxyCaCert: frontProxyCa.cert,
    frontProxyClientCert: frontProxyClient.cert,
    frontProxyClientKey: frontProxyClient.key,
    saKey,
    saPub,
    clients,
  };
}
