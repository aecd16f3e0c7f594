// A cluster API's keys: the Secret cortex-api-keys-<api> (operator/reconcilers/api-keys.ts has
// its shape and why). Each change is one write to it, with the resourceVersion it was read at
// as a precondition: two `cortex api-key` runs at once cannot lose each other's key, and a
// refused change leaves the Secret as it was. The CLI's Secret is owned by the RealtimeAPI, so
// deleting the API deletes its keys (a Secret written by hand or from Git keeps its owners).
import { HttpMethod } from '@kubernetes/client-node';
import { isConflict, isNotFound, resourcePath, type KubeObject } from '../../operator/kube/client.ts';
import { SECRETS } from '../../operator/kube/resources.ts';
import { API_KEYS_LABEL, apiKeysSecretName } from '../../operator/reconcilers/api-keys.ts';
import { API_LABEL } from '../../operator/reconcilers/types.ts';
import { API_VERSION, KIND, type RealtimeApi } from '../../operator/api/v1alpha1/index.ts';
import { parseRecord, type KeyRecord } from '../../operator/auth/keys.ts';
import type { KeyStore } from '../local/keys.ts';
import { CliError, ExitCode } from '../errors.ts';
import { FIELD_MANAGER, talk, type Connection } from './connect.ts';

interface Secret extends KubeObject {
  data?: Record<string, string>;
}

export function clusterKeyStore(conn: Connection, api: RealtimeApi): KeyStore {
  const name = apiKeysSecretName(api.metadata.name);
  const where = `Secret ${conn.namespace}/${name}`;
  const read = async (): Promise<Secret | undefined> => {
    try {
      return await conn.client.get<Secret>(SECRETS, conn.namespace, name);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  };
  const records = (secret: Secret | undefined) => {
    const out = new Map<string, KeyRecord>();
    for (const [id, value] of Object.entries(secret?.data ?? {})) {
      try {
        out.set(id, parseRecord(Buffer.from(value, 'base64').toString('utf8')));
      } catch (error) {
        throw new CliError(
          `${where}: the entry ${id} ${(error as Error).message}; ` +
            `fix it with kubectl edit secret -n ${conn.namespace} ${name}, or remove it`,
          ExitCode.Failed,
        );
      }
    }
    return out;
  };
  /** Applies `change` to the Secret as read; retried when someone else wrote it in between. */
  const update = (what: string, change: (secret: Secret | undefined) => Promise<boolean>) =>
    talk(conn, what, async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await change(await read());
        } catch (error) {
          if (!isConflict(error) || attempt >= 4) throw error;
        }
      }
    });
  const patch = (secret: Secret, data: Record<string, string | null>) =>
    conn.client.request(HttpMethod.PATCH, resourcePath(SECRETS, conn.namespace, name), {
      body: { metadata: { resourceVersion: secret.metadata?.resourceVersion }, data },
      contentType: 'application/merge-patch+json',
      query: { fieldManager: FIELD_MANAGER },
    });
  return {
    where,
    list: () => talk(conn, `reading ${where}`, async () => records(await read())),
    add: (id, record) =>
      update(`adding the key ${id} to ${where}`, async (secret) => {
        const value = Buffer.from(JSON.stringify(record)).toString('base64');
        if (secret === undefined) {
          await conn.client.create<Secret>(
            SECRETS,
            {
              apiVersion: 'v1',
              kind: 'Secret',
              metadata: {
                name,
                namespace: conn.namespace,
                labels: { [API_KEYS_LABEL]: api.metadata.name, [API_LABEL]: api.metadata.name },
                ownerReferences: [
                  { apiVersion: API_VERSION, kind: KIND, name: api.metadata.name, uid: api.metadata.uid! },
                ],
              },
              type: 'Opaque',
              data: { [id]: value },
            } as Secret,
            FIELD_MANAGER,
          );
          return true;
        }
        if (records(secret).has(id)) return false;
        await patch(secret, { [id]: value });
        return true;
      }),
    remove: (id) =>
      update(`removing the key ${id} from ${where}`, async (secret) => {
        if (secret === undefined || !(id in (secret.data ?? {}))) return false;
        await patch(secret, { [id]: null });
        return true;
      }),
  };
}
