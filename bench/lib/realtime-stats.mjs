// The accounting of one bench:realtime phase, from what the feeder sent and what every socket
// (and the Redis tap) received: messages expected, received, lost, duplicated or misrouted, and
// the latency of each message from its event's send time to its receipt, with the stages the
// path went through.

const round = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

/** Nearest-rank percentiles of `values` (a typed array or array of ms). */
export function percentiles(values) {
  const n = values.length;
  if (n === 0) return { n: 0 };
  const s = Float64Array.from(values).sort();
  const q = (p) => s[Math.min(n - 1, Math.floor(p * n))];
  let sum = 0;
  for (const v of s) sum += v;
  return { n, p50: round(q(0.5), 2), p90: round(q(0.9), 2), p99: round(q(0.99), 2), p999: round(q(0.999), 2), max: round(s[n - 1], 2), mean: round(sum / n, 2) };
}

class Values {
  constructor(capacity = 1024) {
    this.n = 0;
    this.a = new Float64Array(capacity);
  }

  push(v) {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }

  get values() {
    return this.a.subarray(0, this.n);
  }
}

/**
 * @param {object} input
 * @param {object} input.feed the feeder's result (ids, sendUs, user, toAdmins, accepted, startAtUs)
 * @param {number} input.users user sockets (global indices 0 … users − 1)
 * @param {number} input.admins admin sockets (global indices users …)
 * @param {{ globals: Int32Array, report: object }[]} input.clients each client process's report
 *   and the global index of each of its local sockets
 * @param {object} [input.tap] the tap's report (first receipt on the broadcast channel)
 * @param {number} input.measureFromUs events sent before this are warm-up (counted for losses only)
 * @param {{ streamUs: Float64Array, txUs: Float64Array }} [input.pipeline] per event: when it
 *   entered the event stream and when the dispatcher's transaction holding it began (µs on the
 *   monotonic clock; NaN when unknown)
 */
export function analyzePhase({ feed, users, admins, clients, tap, measureFromUs, pipeline }) {
  const N = feed.ids.length;
  const connected = new Uint8Array(users + admins);
  for (const { globals, report } of clients) report.ok.forEach((ok, i) => (connected[globals[i]] = ok));
  const adminsUp = connected.subarray(users).reduce((a, b) => a + b, 0);
  const usersUp = connected.subarray(0, users).reduce((a, b) => a + b, 0);

  // Expected: every accepted event to every connected admin (all of them are in every staff
  // room) and to its user's socket when its rooms name one.
  let expectedAdmin = 0;
  let expectedUser = 0;
  let broadcastable = 0;
  for (let s = 0; s < N; s += 1) {
    if (!feed.accepted[s]) continue;
    if (feed.toAdmins[s] || feed.user[s] >= 0) broadcastable += 1;
    if (feed.toAdmins[s]) expectedAdmin += adminsUp;
    if (feed.user[s] >= 0 && connected[feed.user[s]]) expectedUser += 1;
  }

  const tapAt = new Float64Array(N).fill(NaN);
  let tapDuplicates = 0;
  if (tap) {
    for (let i = 0; i < tap.seq.length; i += 1) {
      const s = tap.seq[i];
      if (s >= N) continue;
      if (Number.isNaN(tapAt[s])) tapAt[s] = tap.at[i];
      else tapDuplicates += 1;
    }
  }

  const adminSeen = Array.from({ length: admins }, () => new Uint8Array(N));
  const userSeen = new Set();
  const counts = { received: { admin: 0, user: 0 }, duplicates: 0, unexpected: 0, misrouted: 0 };
  const latency = { admin: new Values(1 << 20), user: new Values(1 << 14) };
  const fanOut = new Values(1 << 20); // broadcast channel → socket
  const perSecond = new Map(); // second of the send time → Values
  for (const { globals, report } of clients) {
    const { seq, sock, at } = report;
    for (let i = 0; i < seq.length; i += 1) {
      const s = seq[i];
      const g = globals[sock[i]];
      if (s >= N || !feed.accepted[s]) {
        counts.unexpected += 1;
        continue;
      }
      const isAdmin = g >= users;
      if (isAdmin) {
        const seen = adminSeen[g - users];
        if (!feed.toAdmins[s]) {
          counts.unexpected += 1;
          continue;
        }
        if (seen[s]++ > 0) {
          counts.duplicates += 1;
          continue;
        }
        counts.received.admin += 1;
      } else {
        if (feed.user[s] !== g) {
          counts.misrouted += 1;
          continue;
        }
        const key = g * 2 ** 26 + s;
        if (userSeen.has(key)) {
          counts.duplicates += 1;
          continue;
        }
        userSeen.add(key);
        counts.received.user += 1;
      }
      if (feed.sendUs[s] < measureFromUs) continue;
      const ms = (at[i] - feed.sendUs[s]) / 1000;
      (isAdmin ? latency.admin : latency.user).push(ms);
      if (!Number.isNaN(tapAt[s])) fanOut.push((at[i] - tapAt[s]) / 1000);
      const second = Math.floor((feed.sendUs[s] - feed.startAtUs) / 1e6);
      let bucket = perSecond.get(second);
      if (!bucket) perSecond.set(second, (bucket = new Values(1 << 14)));
      bucket.push(ms);
    }
  }

  const all = new Float64Array(latency.admin.n + latency.user.n);
  all.set(latency.admin.values);
  all.set(latency.user.values, latency.admin.n);

  // Stages of each measured event's way, from its send time.
  const stages = {};
  const stage = (name) => (stages[name] ??= new Values(1 << 16));
  let measured = 0;
  let tapMissing = 0;
  for (let s = 0; s < N; s += 1) {
    if (!feed.accepted[s] || feed.sendUs[s] < measureFromUs || !(feed.toAdmins[s] || feed.user[s] >= 0)) continue;
    measured += 1;
    const sent = feed.sendUs[s];
    if (Number.isNaN(tapAt[s])) {
      tapMissing += 1;
      continue;
    }
    if (pipeline) {
      const entered = pipeline.streamUs[s];
      const tx = pipeline.txUs[s];
      if (!Number.isNaN(entered) && !Number.isNaN(tx)) {
        stage('post_to_stream').push((entered - sent) / 1000);
        stage('stream_to_tx_start').push((tx - entered) / 1000);
        stage('tx_start_to_published').push((tapAt[s] - tx) / 1000);
      }
    }
    stage('send_to_published').push((tapAt[s] - sent) / 1000);
  }
  const stageStats = Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, percentiles(v.values)]));
  stageStats.published_to_socket = percentiles(fanOut.values);

  const receivedTotal = counts.received.admin + counts.received.user;
  return {
    sockets: { users, admins, users_connected: usersUp, admins_connected: adminsUp },
    events: { sent: N, accepted: feed.accepted.reduce((a, b) => a + b, 0), with_socket_message: broadcastable, measured },
    messages: {
      expected: expectedAdmin + expectedUser,
      received: receivedTotal,
      lost: expectedAdmin + expectedUser - receivedTotal,
      lost_admin: expectedAdmin - counts.received.admin,
      lost_user: expectedUser - counts.received.user,
      expected_admin: expectedAdmin,
      expected_user: expectedUser,
      duplicates: counts.duplicates,
      unexpected: counts.unexpected,
      misrouted: counts.misrouted,
      tap_missing: tap ? tapMissing : undefined,
      tap_duplicates: tap ? tapDuplicates : undefined,
    },
    latency_ms: { all: percentiles(all), user: percentiles(latency.user.values), admin: percentiles(latency.admin.values) },
    stages_ms: stageStats,
    per_second: [...perSecond.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([second, v]) => {
        const p = percentiles(v.values);
        return { s: second, n: p.n, p50: p.p50, p99: p.p99, max: p.max };
      }),
  };
}
