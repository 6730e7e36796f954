// Time and identity of one benchmark event, carried in its id.
//
// Every process of bench:realtime reads the same clock: CLOCK_MONOTONIC (what process.hrtime
// reads on Linux), which is one clock for the whole machine, unlike each process's
// performance.timeOrigin. Send and receipt times are microseconds on it.
//
// The event id is an RFC 9562 version-8 (custom layout) UUID, so the api, PostgreSQL and the
// contract's zod schema take it as any other UUID:
//
//   tttttttt-tttt-8rrr-8rrr-rrrrssssssss
//   t: send time, µs on CLOCK_MONOTONIC (48 bits); r: the phase's tag (10 hex digits, random);
//   s: sequence number of the event in the phase (32 bits); 8 and 8: version and variant.
//
// A socket client needs nothing else to know when a message was sent, which event it is, and
// whether it is one of ours (the gateway also sends snapshot updates and the dispatcher's own
// threshold warnings).
import { randomBytes } from 'node:crypto';

const base = Number(process.hrtime.bigint()) / 1000 - performance.now() * 1000;

/** Now, µs on CLOCK_MONOTONIC (comparable across processes on this machine). */
export const monoUs = () => base + performance.now() * 1000;

/** Wall-clock µs (Unix epoch) minus monotonic µs, in this process: converts PostgreSQL and Redis stream times. */
export const wallMinusMonoUs = () => performance.timeOrigin * 1000 - base;

export const newTag = () => randomBytes(5).toString('hex');

export function eventId(tag, seq, sendUs) {
  const t = Math.round(sendUs).toString(16).padStart(12, '0');
  const s = seq.toString(16).padStart(8, '0');
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-8${tag.slice(0, 3)}-8${tag.slice(3, 6)}-${tag.slice(6, 10)}${s}`;
}

/** The sequence number of one of our ids with `tag`, else -1. */
export function seqOf(id, tag) {
  if (typeof id !== 'string' || id.length !== 36) return -1;
  if (id.slice(15, 18) !== tag.slice(0, 3) || id.slice(20, 23) !== tag.slice(3, 6) || id.slice(24, 28) !== tag.slice(6, 10)) return -1;
  return parseInt(id.slice(28), 16);
}

export function sendUsOf(id) {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/** Receipts (sequence number, local socket index, time) in growable typed arrays. */
export class Receipts {
  constructor(capacity = 1 << 16) {
    this.n = 0;
    this.seq = new Uint32Array(capacity);
    this.sock = new Uint16Array(capacity);
    this.at = new Float64Array(capacity);
  }

  push(seq, sock, at) {
    if (this.n === this.seq.length) {
      const grow = (a) => {
        const b = new a.constructor(a.length * 2);
        b.set(a);
        return b;
      };
      this.seq = grow(this.seq);
      this.sock = grow(this.sock);
      this.at = grow(this.at);
    }
    this.seq[this.n] = seq;
    this.sock[this.n] = sock;
    this.at[this.n] = at;
    this.n += 1;
  }

  /** Trimmed copies, to send to the orchestrator. */
  take() {
    return { seq: this.seq.slice(0, this.n), sock: this.sock.slice(0, this.n), at: this.at.slice(0, this.n) };
  }
}
