// bench:realtime's load generator, in its own process so its work never delays a receipt.
//
// Open loop: every `tickMs` it sends rate × tickMs / 1000 events, due at startAt + k × tickMs
// whether or not earlier sends were answered (a late timer sends every batch that is due at once).
// Each event's id carries its send time, taken just before the batch goes out (realtime-ids.mjs).
//   mode `post`:    one `POST /api/events` per tick, through the api, the dispatcher, Redis and
//                   the gateways — the path under test;
//   mode `publish`: what the dispatcher would publish for each event, one PUBLISH per event in one
//                   pipeline per tick, straight onto `channel` — the gateways' (or the bare
//                   servers') input without the api and dispatcher.
import { Agent } from 'node:http';
import { postEvents } from './http.mjs';
import Redis from 'ioredis';
import { monoUs } from './realtime-ids.mjs';
import { serveHelper } from './realtime-rpc.mjs';
import { broadcastMessage, createRealtimeWorkload, EVENT_NAMES } from './realtime-workload.mjs';

const post = postEvents;

async function run({ mode, apiPort, ingestToken, redisUrl, channel, users, tag, rate, tickMs, warmupS, durationS, startAtUs, seed }) {
  const workload = createRealtimeWorkload({ users, tag, seed });
  const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
  const ticks = Math.round(((warmupS + durationS) * 1000) / tickMs);
  const total = ticks * perTick;
  const out = {
    ids: new Array(total),
    sendUs: new Float64Array(total),
    name: new Uint8Array(total),
    user: new Int32Array(total).fill(-1),
    toAdmins: new Uint8Array(total),
    accepted: new Uint8Array(total),
  };
  const answerMs = [];
  const statuses = {};
  const errors = [];
  let maxLateMs = 0;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const redis = mode === 'publish' ? new Redis(redisUrl) : null;
  const inFlight = [];

  const send = (events) => {
    const t = monoUs();
    if (mode === 'post') {
      const occurred_at = new Date().toISOString();
      const json = JSON.stringify({ events: events.map((e) => ({ id: e.id, name: e.name, payload: e.payload, occurred_at })) });
      return post(agent, apiPort, ingestToken, json).then((res) => {
        answerMs.push((monoUs() - t) / 1000);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status === 202) for (const e of events) out.accepted[e.seq] = 1;
        else if (errors.length < 5) errors.push(`${res.status} ${res.body.slice(0, 200)}`);
      });
    }
    // The dispatcher skips events without a socket message (heartbeats); so does this.
    const pipeline = redis.pipeline();
    const timestamp = new Date().toISOString();
    const published = [];
    for (const e of events) {
      if (e.rooms.length === 0) {
        out.accepted[e.seq] = 1;
        continue;
      }
      pipeline.publish(channel, broadcastMessage(e, timestamp));
      published.push(e);
    }
    if (published.length === 0) return Promise.resolve();
    return pipeline.exec().then(
      (results) => {
        answerMs.push((monoUs() - t) / 1000);
        results.forEach(([error], i) => {
          if (!error) out.accepted[published[i].seq] = 1;
        });
        statuses.published = (statuses.published ?? 0) + 1;
      },
      (error) => {
        statuses.failed = (statuses.failed ?? 0) + 1;
        if (errors.length < 5) errors.push(String(error));
      },
    );
  };

  await new Promise((resolve) => {
    let k = 0;
    const step = () => {
      while (k < ticks && startAtUs + k * tickMs * 1000 <= monoUs()) {
        const now = monoUs();
        maxLateMs = Math.max(maxLateMs, (now - (startAtUs + k * tickMs * 1000)) / 1000);
        const events = [];
        for (let i = 0; i < perTick; i += 1) {
          const e = workload.next(now);
          events.push(e);
          out.ids[e.seq] = e.id;
          out.sendUs[e.seq] = now;
          out.name[e.seq] = EVENT_NAMES.indexOf(e.name);
          out.user[e.seq] = e.user;
          out.toAdmins[e.seq] = e.toAdmins ? 1 : 0;
        }
        inFlight.push(send(events));
        k += 1;
      }
      if (k >= ticks) resolve();
      else setTimeout(step, Math.max(0, (startAtUs + k * tickMs * 1000 - monoUs()) / 1000));
    };
    const wait = (startAtUs - monoUs()) / 1000;
    setTimeout(step, Math.max(0, wait));
  });
  const endUs = monoUs();
  await Promise.all(inFlight);
  agent.destroy();
  redis?.disconnect();
  answerMs.sort((a, b) => a - b);
  const q = (p) => (answerMs.length ? Math.round(answerMs[Math.min(answerMs.length - 1, Math.floor(p * answerMs.length))] * 10) / 10 : null);
  return {
    ...out,
    perTick,
    ticks,
    startAtUs,
    endUs,
    sentPerS: Math.round(total / ((endUs - startAtUs) / 1e6)),
    maxLateMs: Math.round(maxLateMs * 10) / 10,
    answerMs: { n: answerMs.length, p50: q(0.5), p99: q(0.99), max: q(1) },
    statuses,
    errors,
  };
}

serveHelper({ run });
