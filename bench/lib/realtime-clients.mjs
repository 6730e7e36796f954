// bench:realtime's receivers, in processes of their own (the load generator never shares their
// event loop), each holding a share of the sockets:
//   `connect` with mode `socketio`: socket.io-client sockets, WebSocket transport only, each with
//             its own JWT (HS256, `sub` = its user id, `role` user or admin), as a dashboard
//             connects to the realtime-gateway;
//   `connect` with mode `ws`: plain `ws` sockets to the bare server (user and role in the URL);
//   `tap`:    one Redis subscriber on the broadcast channel — when a message left the dispatcher
//             (or the feeder) and reached a subscriber, i.e. the moment a gateway got it.
// Every message that carries one of the phase's event ids is recorded as (event sequence number,
// local socket index, receipt time µs on the machine's monotonic clock) once parsed; the
// orchestrator does all the accounting. Anything else (initial_data, ssot:update, the
// dispatcher's own queue:warning) is counted by type.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Redis from 'ioredis';
import { SignJWT } from 'jose';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { monoUs, Receipts, seqOf } from './realtime-ids.mjs';
import { serveHelper } from './realtime-rpc.mjs';

let receipts = new Receipts();
const other = {};
const state = { connected: 0, failed: 0, disconnects: 0, reconnects: 0, connectErrors: 0, closeReasons: {}, lastUs: 0 };
const sockets = [];
let okFlags = new Uint8Array(0);
let tag = '';
let subscriber = null;
const eld = monitorEventLoopDelay({ resolution: 10 });
eld.enable();
let cpuMark = process.cpuUsage();
let markUs = monoUs();

function onMessage(index, type, message) {
  const t = monoUs();
  const seq = seqOf(message?.data?.id, tag);
  if (seq < 0) {
    other[type] = (other[type] ?? 0) + 1;
    return;
  }
  receipts.push(seq, index, t);
  state.lastUs = t;
}

async function token(secret, sub, role) {
  return new SignJWT({ role })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('3h')
    .sign(new TextEncoder().encode(secret));
}

function connectSocketIo(index, url, jwt) {
  return new Promise((resolve) => {
    const socket = io(url, { transports: ['websocket'], auth: { token: jwt }, forceNew: true, reconnectionDelay: 500, timeout: 30_000 });
    sockets[index] = socket;
    let first = true;
    socket.onAny((type, message) => onMessage(index, type, message));
    socket.on('connect', () => {
      if (first) {
        first = false;
        state.connected += 1;
        okFlags[index] = 1;
        resolve(true);
      } else {
        state.reconnects += 1;
      }
    });
    socket.on('disconnect', (reason) => {
      state.disconnects += 1;
      state.closeReasons[reason] = (state.closeReasons[reason] ?? 0) + 1;
    });
    socket.on('connect_error', (error) => {
      state.connectErrors += 1;
      state.closeReasons[`connect_error: ${error.message}`] = (state.closeReasons[`connect_error: ${error.message}`] ?? 0) + 1;
      if (first && error.message === 'unauthorized') {
        first = false;
        state.failed += 1;
        socket.close();
        resolve(false);
      }
    });
  });
}

function connectWs(index, url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    sockets[index] = ws;
    let open = false;
    ws.on('message', (data) => {
      let message;
      try {
        message = JSON.parse(data);
      } catch {
        other.unparsable = (other.unparsable ?? 0) + 1;
        return;
      }
      onMessage(index, message.type, message);
    });
    ws.on('open', () => {
      open = true;
      state.connected += 1;
      okFlags[index] = 1;
      resolve(true);
    });
    ws.on('close', (code) => {
      if (!open) return;
      state.disconnects += 1;
      state.closeReasons[code] = (state.closeReasons[code] ?? 0) + 1;
    });
    ws.on('error', (error) => {
      state.connectErrors += 1;
      state.closeReasons[error.message] = (state.closeReasons[error.message] ?? 0) + 1;
      if (!open) {
        state.failed += 1;
        resolve(false);
      }
    });
  });
}

/**
 * Opens `list` ([{ user, role, url }]) with at most `concurrency` handshakes in flight; resolves
 * once every socket is connected or refused.
 */
async function connect({ mode, list, secret, phaseTag, concurrency = 100, expected = 1 << 16 }) {
  tag = phaseTag;
  receipts = new Receipts(expected);
  okFlags = new Uint8Array(list.length);
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const index = next++;
      const { user, role, url } = list[index];
      if (mode === 'socketio') await connectSocketIo(index, url, await token(secret, user, role));
      else await connectWs(index, `${url.replace(/^http/, 'ws')}/?u=${user}&r=${role}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
  return { connected: state.connected, failed: state.failed, seconds: Math.round(performance.now() - started) / 1000 };
}

/** One Redis subscriber on `channel`: when each message reached a subscriber. */
async function tap({ redisUrl, channel, phaseTag, expected = 1 << 16 }) {
  tag = phaseTag;
  receipts = new Receipts(expected);
  subscriber = new Redis(redisUrl);
  subscriber.on('message', (_channel, raw) => {
    const t = monoUs();
    let parsed;
    try {
      parsed = JSON.parse(raw);
    } catch {
      other.unparsable = (other.unparsable ?? 0) + 1;
      return;
    }
    const seq = seqOf(parsed?.message?.data?.id, tag);
    if (seq < 0) {
      other[parsed?.message?.type ?? '?'] = (other[parsed?.message?.type ?? '?'] ?? 0) + 1;
      return;
    }
    receipts.push(seq, 0, t);
    state.lastUs = t;
  });
  await subscriber.subscribe(channel);
  return { subscribed: channel };
}

/** Starts the measured stretch: event-loop delay and CPU from here. */
function mark() {
  eld.reset();
  cpuMark = process.cpuUsage();
  markUs = monoUs();
  return { at: markUs };
}

function stat() {
  return { received: receipts.n, lastUs: state.lastUs, disconnects: state.disconnects, reconnects: state.reconnects };
}

function report() {
  const cpu = process.cpuUsage(cpuMark);
  const ms = (x) => Math.round(x / 1e4) / 100;
  return {
    ...receipts.take(),
    ok: okFlags,
    other,
    state,
    eventLoopDelayMs: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) },
    cpuCores: Math.round(((cpu.user + cpu.system) / (monoUs() - markUs)) * 100) / 100,
    rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
}

async function exit() {
  for (const socket of sockets) {
    if (!socket) continue;
    if (socket instanceof WebSocket) socket.terminate();
    else socket.close();
  }
  subscriber?.disconnect();
}

serveHelper({ connect, tap, mark, stat, report, exit });
