// kubectl against the test cluster.
import { execa } from 'execa';

export interface Kubectl {
  (args: string[], options?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** The same, resolving to the parsed `-o json` output. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- kubectl's JSON, loosely typed unless T is given
  json<T = any>(args: string[]): Promise<T>;
}

export function kubectlFor(bin: string, kubeconfig: string): Kubectl {
  const run = async (args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> => {
    const r = await execa(bin, args, {
      env: { KUBECONFIG: kubeconfig },
      input: options.input,
      timeout: options.timeoutMs ?? 120_000,
      reject: false,
    });
    if (r.exitCode !== 0)
      throw new Error(`kubectl ${args.join(' ')} failed (${r.exitCode ?? r.signal}): ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  return Object.assign(run, { json: async <T>(args: string[]) => JSON.parse(await run([...args, '-o', 'json'])) as T });
}
