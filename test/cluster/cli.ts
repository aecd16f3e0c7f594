// npm run cluster -- up|down|status
// up: builds what is missing, starts the test cluster (or finds it running) and prints, as its
// last line, KUBECONFIG=<path>. down: stops every process and removes the state. status: what
// runs; exits 1 when the cluster is not up. State dir: $CORTEX_TEST_CLUSTER_DIR or
// ~/.cache/cortex-test-cluster/state.
import { ensureBinaries } from './build.ts';
import { clusterStatus, startCluster, stopCluster } from './cluster.ts';
import { defaultStateDir } from './paths.ts';

const usage = 'usage: npm run cluster -- up|down|status|build';

async function main(cmd: string | undefined): Promise<number> {
  const stateDir = defaultStateDir();
  switch (cmd) {
    case 'up': {
      const c = await startCluster({ stateDir, stopOnExit: false, crdErrors: 'warn' });
      if (c.reused) process.stderr.write(`[cluster] already up (${c.server}, started ${c.startedAt})\n`);
      process.stderr.write(`[cluster] node pools: ${c.nodePoolsFile}\n`);
      process.stdout.write(`KUBECONFIG=${c.kubeconfig}\n`);
      return 0;
    }
    case 'down':
      await stopCluster(stateDir);
      process.stderr.write(`[cluster] down (${stateDir} removed)\n`);
      return 0;
    case 'status': {
      const s = await clusterStatus(stateDir);
      if (s.daemons.length === 0 && !s.state) {
        process.stdout.write(`down (no cluster in ${stateDir})\n`);
        return 1;
      }
      for (const d of s.daemons)
        process.stdout.write(
          `${d.name.padEnd(24)} pid ${String(d.pid).padEnd(8)} ` +
            `${d.running ? 'running' : 'NOT RUNNING'}  log ${d.log}\n`,
        );
      if (s.state) {
        process.stdout.write(
          `kube-apiserver ${s.state.server} ${s.apiserverReady ? 'ready' : 'NOT READY'} ` +
            `(Kubernetes ${s.state.version})\n`,
        );
        process.stdout.write(`node pools ${s.state.nodePoolsFile}\n`);
      }
      process.stdout.write(s.up ? `up\nKUBECONFIG=${s.state?.kubeconfig}\n` : 'not up\n');
      return s.up ? 0 : 1;
    }
    case 'build':
      await ensureBinaries();
      return 0;
    default:
      process.stderr.write(`${usage}\n`);
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[cluster] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
