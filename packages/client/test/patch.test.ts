// Copy-on-write JSON Patch: the result equals what fast-json-patch gives on a clone, the document
// patched is left as it was, and every part no operation touched is the same object as before.
import { applyPatch, type Operation } from 'fast-json-patch';
import { applyPatchShared } from '../src/patch';

const base = () => ({
  meta: { version: 1, errors: {} as Record<string, string> },
  dashboard: {
    queue: { pending: 3, processing: 1 },
    workers: { details: [{ id: 'w0', cpu: 10 }, { id: 'w1', cpu: 20 }, { id: 'w2', cpu: 30 }] },
  },
  logs: { recent_entries: [{ id: 'l0' }, { id: 'l1' }] },
  'a/b~c': { x: 1 },
});

/** The patch through both implementations: same result, original untouched. */
function both(patch: Operation[]) {
  const document = base();
  const frozen = JSON.stringify(document);
  const shared = applyPatchShared(document, patch);
  expect(JSON.stringify(document)).toBe(frozen);
  expect(shared).toEqual(applyPatch(base(), patch, true, false).newDocument);
  return { document, shared };
}

describe('applyPatchShared', () => {
  it('copies the path of each operation and shares everything else', () => {
    const { document, shared } = both([
      { op: 'replace', path: '/meta/version', value: 2 },
      { op: 'replace', path: '/dashboard/workers/details/1/cpu', value: 25 },
    ]);
    expect(shared).not.toBe(document);
    expect(shared.meta).not.toBe(document.meta);
    expect(shared.meta.errors).toBe(document.meta.errors);
    expect(shared.dashboard.queue).toBe(document.dashboard.queue);
    expect(shared.dashboard.workers.details).not.toBe(document.dashboard.workers.details);
    expect(shared.dashboard.workers.details[0]).toBe(document.dashboard.workers.details[0]);
    expect(shared.dashboard.workers.details[1]).not.toBe(document.dashboard.workers.details[1]);
    expect(shared.dashboard.workers.details[2]).toBe(document.dashboard.workers.details[2]);
    expect(shared.logs).toBe(document.logs);
  });

  it('applies add, remove, move, copy and test as RFC 6902 says, on escaped paths too', () => {
    both([
      { op: 'add', path: '/logs/recent_entries/0', value: { id: 'new' } },
      { op: 'add', path: '/logs/recent_entries/-', value: { id: 'last' } },
      { op: 'remove', path: '/dashboard/workers/details/0' },
      { op: 'move', from: '/dashboard/queue/processing', path: '/meta/processing' },
      { op: 'copy', from: '/dashboard/workers/details/0', path: '/dashboard/first' },
      { op: 'test', path: '/meta/version', value: 1 },
      { op: 'replace', path: '/a~1b~0c/x', value: 2 },
      { op: 'add', path: '/meta/errors/queue', value: 'timeout' },
    ]);
    const { document, shared } = both([{ op: 'replace', path: '', value: { meta: { version: 9 } } }]);
    expect(shared).not.toBe(document);
  });

  it('throws on a patch that does not fit, leaving the document as it was', () => {
    const fails: Operation[][] = [
      [{ op: 'replace', path: '/meta/version', value: 2 }, { op: 'replace', path: '/dashboard/nothing/here', value: 1 }],
      [{ op: 'replace', path: '/meta/version', value: 2 }, { op: 'test', path: '/meta/version', value: 1 }],
      [{ op: 'remove', path: '/logs/recent_entries/7' }],
      [{ op: 'add', path: '/__proto__/polluted', value: true }],
      [{ op: 'replace', path: '/constructor/prototype/polluted', value: true }],
    ];
    for (const patch of fails) {
      const document = base();
      const before = JSON.stringify(document);
      expect(() => applyPatchShared(document, patch)).toThrow();
      expect(JSON.stringify(document)).toBe(before);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
