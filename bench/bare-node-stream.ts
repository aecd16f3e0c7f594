// A ceiling for the streaming bench: a bare node:http server that streams the bench's answer
// (200 JSON lines, 5 ms apart) from a Node timer, with no framework, no worker and no Python.
// What is left is one socket write per chunk and Node's own HTTP framing: the least a server
// whose front is node:http can spend per chunk, whatever produces the chunks.
//   node bench/bare-node-stream.ts <port>
import { createServer } from 'node:http';

const CHUNKS = 200;
const PAUSE_MS = 5;
const port = Number(process.argv[2] ?? 8080);

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    let i = 0;
    const next = () => {
      res.write(`${JSON.stringify({ token: i })}\n`);
      if (++i === CHUNKS) res.end();
      else setTimeout(next, PAUSE_MS);
    };
    next();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
