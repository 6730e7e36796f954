// The ceiling of bench:realtime: the gateway's fan-out with nothing else — a bare `ws` server
// that subscribes to a Redis channel, as a gateway subscribes to `ssot:broadcast`, and writes each
// message to the local sockets of its rooms. Rooms as CONTRACT §6 makes them (every socket
// `user:{id}`, admins also admin, alerts, monitoring), the user taken from the URL instead of a
// verified token; the message `{type, data, timestamp}` encoded once and sent to each socket once
// even when it is in several of the rooms, and a socket's messages of one tick written to the
// kernel at once, as the gateways write them (`coalesceWrites`, realtime-gateway's
// socket-output.ts): a ceiling that made one system call per message would be slower than what it
// bounds. No socket.io, engine.io, adapter, auth, snapshot updates or backpressure handling.
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Redis from 'ioredis';
import { WebSocketServer } from 'ws';
import { serveHelper } from './realtime-rpc.mjs';

const STAFF_ROOMS = ['admin', 'alerts', 'monitoring'];
const rooms = new Map(); // room → Set of sockets
let server;
let subscriber;
let sent = 0;
let malformed = 0;
let connections = 0;
const eld = monitorEventLoopDelay({ resolution: 10 });
eld.enable();

function join(room, ws) {
  let members = rooms.get(room);
  if (!members) rooms.set(room, (members = new Set()));
  members.add(ws);
}

function leave(room, ws) {
  const members = rooms.get(room);
  if (!members) return;
  members.delete(ws);
  if (members.size === 0) rooms.delete(room);
}

// The TCP sockets corked in this tick; uncorked together once it ends.
const corked = new Set();

function uncorkAll() {
  for (const tcp of corked) tcp.uncork();
  corked.clear();
}

function send(ws, text) {
  const tcp = ws._socket;
  if (tcp && !corked.has(tcp)) {
    if (corked.size === 0) process.nextTick(uncorkAll);
    corked.add(tcp);
    tcp.cork();
  }
  ws.send(text);
  sent += 1;
}

function fanOut(raw) {
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch {
    malformed += 1;
    return;
  }
  const text = JSON.stringify(parsed.message);
  if (parsed.rooms.length === 1) {
    for (const ws of rooms.get(parsed.rooms[0]) ?? []) send(ws, text);
    return;
  }
  const targets = new Set();
  for (const room of parsed.rooms) for (const ws of rooms.get(room) ?? []) targets.add(ws);
  for (const ws of targets) send(ws, text);
}

async function start({ redisUrl, channel }) {
  server = createServer((req, res) => {
    res.writeHead(req.url === '/readyz' ? 200 : 404).end();
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 });
  wss.on('connection', (ws, req) => {
    const query = new URL(req.url, 'http://x').searchParams;
    const member = [`user:${query.get('u')}`, ...(query.get('r') === 'admin' ? STAFF_ROOMS : [])];
    for (const room of member) join(room, ws);
    connections += 1;
    ws.on('close', () => {
      connections -= 1;
      for (const room of member) leave(room, ws);
    });
    ws.on('error', () => {});
  });
  subscriber = new Redis(redisUrl);
  subscriber.on('message', (_channel, raw) => fanOut(raw));
  await subscriber.subscribe(channel);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port };
}

/** Starts the measured stretch (event-loop delay from here). */
function mark() {
  eld.reset();
  return {};
}

function stats() {
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  return { sent, malformed, connections, event_loop_delay_ms: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) } };
}

async function exit() {
  subscriber?.disconnect();
  server?.closeAllConnections?.();
}

serveHelper({ start, mark, stats, exit });
