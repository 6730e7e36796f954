// The ceiling: a bare node:http server sending the snapshot bytes from memory, nothing else.
// Reads the bytes once from Redis at start. Prints its port on stdout.
import { createServer } from 'node:http';
import Redis from 'ioredis';

const redis = new Redis(process.env.REDIS_URL);
const body = await redis.getBuffer(process.env.SNAPSHOT_KEY);
redis.disconnect();
if (!body) throw new Error('no snapshot to serve');
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
