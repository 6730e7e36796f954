import fc from 'fast-check';
import { applyPatch, compare, type Operation } from 'fast-json-patch';
import { diffJson, escapePathComponent, isPlainJson } from '../src/json-diff';

// The collector's patch writer against fast-json-patch's `compare`, which it replaces: the same
// ops in the same order, for any two JSON values, and applying them gives the new value.

const ops = (before: unknown, after: unknown, path = ''): Operation[] => {
  const out: string[] = [];
  diffJson(before, after, path, out);
  return JSON.parse(`[${out.join(',')}]`) as Operation[];
};

// JSON values with keys that need escaping in a pointer, and with shared shapes so that diffs
// descend instead of only replacing whole values.
const key = fc.constantFrom('a', 'b', 'queue/one', 'x~y', '', '0', 'status', 'jobs');
const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string(), tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 5 }),
})).value;

/** `value` with some members changed, removed or added, as one build of a section differs from the last. */
const mutated = (value: unknown) =>
  fc.tuple(fc.array(fc.tuple(fc.nat(), fc.constantFrom('change', 'remove', 'add'), json), { maxLength: 4 })).map(([edits]) => {
    const copy = JSON.parse(JSON.stringify(value)) as unknown;
    const containers: (unknown[] | Record<string, unknown>)[] = [];
    const walk = (v: unknown) => {
      if (typeof v !== 'object' || v === null) return;
      containers.push(v as Record<string, unknown>);
      for (const child of Object.values(v)) walk(child);
    };
    walk(copy);
    for (const [pick, edit, replacement] of edits) {
      const target = containers[pick % Math.max(containers.length, 1)];
      if (!target) return replacement;
      if (Array.isArray(target)) {
        if (edit === 'add') target.push(replacement);
        else if (edit === 'remove') target.pop();
        else if (target.length > 0) target[pick % target.length] = replacement;
      } else {
        const keys = Object.keys(target);
        if (edit === 'add' || keys.length === 0) target[`k${pick % 7}`] = replacement;
        else if (edit === 'remove') delete target[keys[pick % keys.length]!];
        else target[keys[pick % keys.length]!] = replacement;
      }
    }
    return copy;
  });

describe('diffJson', () => {
  it('writes the ops compare makes, in its order, and they turn the old value into the new', () => {
    fc.assert(
      fc.property(
        json.chain((before) => fc.tuple(fc.constant(before), mutated(before))),
        ([before, after]) => {
          if (typeof before !== 'object' || before === null || typeof after !== 'object' || after === null) return;
          const mine = ops(before, after);
          expect(mine).toEqual(compare(before, after));
          const applied = applyPatch(JSON.parse(JSON.stringify(before)), mine, true, true).newDocument;
          expect(applied).toEqual(after);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('prefixes every path, escaping ~ and / in keys', () => {
    expect(ops({ 'a/b': 1, 'c~d': [1, 2] }, { 'a/b': 2, 'c~d': [1] }, '/queue')).toEqual([
      { op: 'remove', path: '/queue/c~0d/1' },
      { op: 'replace', path: '/queue/a~1b', value: 2 },
    ]);
    expect(escapePathComponent('~/')).toBe('~0~1');
  });

  it('replaces a member that changes kind whole, and writes nothing for equal values', () => {
    expect(ops({ a: [1] }, { a: { 0: 1 } })).toEqual([{ op: 'replace', path: '/a', value: { 0: 1 } }]);
    expect(ops({ a: { b: [1, { c: 'x' }] } }, { a: { b: [1, { c: 'x' }] } })).toEqual([]);
  });
});

describe('isPlainJson', () => {
  it('is true for what JSON.parse gives', () => {
    fc.assert(fc.property(json, (value) => isPlainJson(JSON.parse(JSON.stringify(value)))));
  });

  it('is false for what JSON would change or drop', () => {
    class Decimal {
      toNumber() {
        return 1;
      }
    }
    for (const value of [
      undefined,
      { a: undefined },
      [1, undefined],
      // eslint-disable-next-line no-sparse-arrays
      [1, , 3],
      NaN,
      { n: Infinity },
      new Date(0),
      { at: new Date(0) },
      10n,
      new Decimal(),
      Buffer.from('x'),
      { f: () => 1 },
    ]) {
      expect(isPlainJson(value)).toBe(false);
    }
    expect(isPlainJson(Object.assign(Object.create(null) as object, { a: 1 }))).toBe(true);
  });
});
