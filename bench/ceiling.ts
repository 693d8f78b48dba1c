import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The ceiling: a bare node:http server that answers every request with the same response bytes
 * from memory, i.e. what this machine, Node's HTTP stack and the load generator can do with no
 * FHIR work at all. `node dist/bench/ceiling.js` prints {"port":N} and serves until killed.
 *
 * The harness sets the bytes before each workload with `PUT /__bench/response` (body = the
 * response vertebra gave to a sample request; X-Bench-Status and X-Bench-Content-Type), so the
 * ceiling sends exactly as many bytes as vertebra does. Request bodies are read to the end before
 * answering, as any server must.
 */

let status = 200;
let contentType = 'application/fhir+json; charset=utf-8';
let body: Buffer = Buffer.from('{}');

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const server = createServer((req, res) => {
  if (req.url === '/__bench/response' && req.method === 'PUT') {
    void readBody(req).then((bytes) => {
      body = bytes;
      status = Number(req.headers['x-bench-status'] ?? 200);
      contentType = String(req.headers['x-bench-content-type'] ?? contentType);
      res.writeHead(204).end();
    });
    return;
  }
  req.resume();
  req.on('end', () => {
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': body.length });
    res.end(body);
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
