/**
 * Reading the stored snapshot without parsing it. The collector writes `meta` first
 * (`{"meta":{"version":N,…,"stale":false,…`), so these fields sit in its first bytes: the api and
 * the gateways serve 50 KB snapshots without a JSON.parse per read.
 */

const STALE_FALSE = ',"stale":false';
const STALE_TRUE = ',"stale":true';

/** The version in the first bytes of a stored snapshot, or null when they are not one. */
export function readSnapshotVersion(bytes: Buffer | string): number | null {
  const head = typeof bytes === 'string' ? bytes.slice(0, 64) : bytes.subarray(0, 64).toString('latin1');
  const match = /^\{"meta":\{"version":(\d+)/.exec(head);
  return match ? Number(match[1]) : null;
}

/** The same snapshot with `meta.stale` set to true, as the last good copy is served. */
export function markSnapshotStale<T extends Buffer | string>(body: T): T {
  if (typeof body === 'string') {
    const at = body.slice(0, 256).indexOf(STALE_FALSE);
    return (at < 0 ? body : `${body.slice(0, at)}${STALE_TRUE}${body.slice(at + STALE_FALSE.length)}`) as T;
  }
  const buffer = body as Buffer;
  const at = buffer.subarray(0, 256).toString('latin1').indexOf(STALE_FALSE);
  if (at < 0) return body;
  return Buffer.concat([buffer.subarray(0, at), Buffer.from(STALE_TRUE), buffer.subarray(at + STALE_FALSE.length)]) as T;
}
