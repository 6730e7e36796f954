// The naive handler peers use: Redis GET, JSON.parse, res.json on every request.
import express from 'express';
import Redis from 'ioredis';

const redis = new Redis(process.env.REDIS_URL);
const app = express();
app.get('/api/admin/ssot', async (req, res) => {
  const cached = await redis.get(process.env.SNAPSHOT_KEY);
  res.json(JSON.parse(cached));
});
const server = app.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
