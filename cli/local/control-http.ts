// The supervisor's control protocol over its unix socket: JSON requests, JSON answers, and
// deploys' progress as JSON lines.
import http from 'node:http';
import { ControlRequestError, type RolloutEvent } from './protocol.ts';

const MAX_CONTROL_BODY = 16 * 1024 * 1024;

export function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      text += c;
      if (text.length > MAX_CONTROL_BODY) {
        reject(new ControlRequestError(`request body is larger than ${MAX_CONTROL_BODY} bytes`));
        req.destroy();
      }
    });
    req.on('end', () => {
      try {
        resolve(text === '' ? {} : JSON.parse(text));
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Progress events as JSON lines; a client that went away does not stop the work. */
export function streamTo(res: http.ServerResponse): (event: RolloutEvent) => void {
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
  return (event) => {
    if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify(event) + '\n');
  };
}
