// The ceiling: a bare node:http server computing the benchmark's answer inline, with no
// framework, no workers and no validation beyond JSON.parse.
//   node bench/bare-node.ts <port>
import { createServer } from 'node:http';

const WEIGHTS = [0.5, -0.25, 1.0, 2.0];
const port = Number(process.argv[2] ?? 8080);

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let body: string;
    try {
      const x = JSON.parse(Buffer.concat(chunks).toString('utf8')).features as number[];
      const w = WEIGHTS;
      body = JSON.stringify({ score: w[0] * x[0] + w[1] * x[1] + w[2] * x[2] + w[3] * x[3] });
    } catch (err) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: String(err) }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
