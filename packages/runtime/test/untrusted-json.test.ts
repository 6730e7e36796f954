import { ValidationError } from '../src/errors';
import { parseUntrustedJson } from '../src/untrusted-json';
import { Watchdog } from '../src/watchdog';

const refusal = (text: string): string => {
  try {
    parseUntrustedJson(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as Error).message;
  }
  throw new Error(`accepted: ${text.slice(0, 80)}`);
};

describe('parseUntrustedJson', () => {
  it('parses JSON, a leading BOM included', () => {
    expect(parseUntrustedJson('{"a":[1,{"b":"c"}],"d":null}')).toEqual({ a: [1, { b: 'c' }], d: null });
    expect(parseUntrustedJson('\uFEFF{"a":1}')).toEqual({ a: 1 });
    expect(parseUntrustedJson('"just a string"')).toBe('just a string');
  });

  it('refuses what is not JSON', () => {
    for (const text of ['', '{not json', '\u0000', '{"a":1}{', 'NaN', 'undefined']) expect(refusal(text)).toBe('request body is not valid JSON');
  });

  it('refuses the reserved keys anywhere, however spelt, naming their path', () => {
    expect(refusal('{"__proto__":{"admin":true}}')).toBe("__proto__: reserved key '__proto__' is not allowed");
    expect(refusal('{"a":{"\\u005f\\u005fproto__":1}}')).toBe("a.__proto__: reserved key '__proto__' is not allowed");
    expect(refusal('{"events":[{},{"payload":{"constructor":{"prototype":{}}}}]}')).toBe("events[1].payload.constructor: reserved key 'constructor' is not allowed");
    expect(refusal('{"x":[[{"prototype":1}]]}')).toBe("x[0][0].prototype: reserved key 'prototype' is not allowed");
    expect(refusal('{"odd key":{"constructor":"bare"}}')).toBe(`["odd key"].constructor: reserved key 'constructor' is not allowed`);
    // The names as values, or inside longer keys, are fine.
    expect(parseUntrustedJson('{"name":"__proto__","my_constructor":1}')).toEqual({ name: '__proto__', my_constructor: 1 });
  });

  it('refuses nesting past the limit without a deep recursion, and numbers a double cannot hold', () => {
    expect(refusal('['.repeat(100_000) + ']'.repeat(100_000))).toBe(`${'[0]'.repeat(32)}: nested deeper than 32 levels`);
    expect(parseUntrustedJson(`${'['.repeat(32)}${']'.repeat(32)}`)).toBeDefined();
    expect(() => parseUntrustedJson(`${'['.repeat(4)}${']'.repeat(4)}`, { maxDepth: 3 })).toThrow('nested deeper than 3 levels');
    expect(refusal('{"payload":{"pending":1e999}}')).toBe('payload.pending: number out of range (not finite)');
    expect(refusal('[-1e400]')).toBe('[0]: number out of range (not finite)');
  });
});

describe('Watchdog', () => {
  it('reports a loop stuck once it has made no progress for its deadline, and forgets a stopped one', () => {
    let now = 1_000;
    const watchdog = new Watchdog(() => now);
    const events = watchdog.watch('events', 10_000);
    const sweeper = watchdog.watch('sweeper', 15_000);
    now += 10_000;
    expect(watchdog.stuck()).toEqual([]);
    now += 1;
    expect(watchdog.stuck()).toEqual([{ loop: 'events', since_ms: 10_001, deadline_ms: 10_000 }]);
    events.progress();
    expect(watchdog.stuck()).toEqual([]);
    now += 5_000;
    expect(watchdog.stuck()).toEqual([{ loop: 'sweeper', since_ms: 15_001, deadline_ms: 15_000 }]);
    sweeper.stop();
    expect(watchdog.stuck()).toEqual([]);
  });
});
