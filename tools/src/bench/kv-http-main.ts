// The service of `npm run bench:service`: a small deterministic key-value store over HTTP/1.1.
// `node kv-http-main.js <port>`: GET /k/<key> answers the value (404 if none), PUT /k/<key> stores
// the body and answers the store's version. No Date header, so replicas answer byte for byte alike.
import * as http from 'node:http';

const store = new Map<string, string>();
let version = 0;

const server = http.createServer((req, res) => {
  res.sendDate = false;
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const key = (req.url ?? '/').slice(3);
    if (req.method === 'PUT') {
      store.set(key, Buffer.concat(chunks).toString('utf8'));
      res.end(String(++version));
      return;
    }
    const value = store.get(key);
    res.statusCode = value === undefined ? 404 : 200;
    res.end(value ?? 'none');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('listening\n'));
