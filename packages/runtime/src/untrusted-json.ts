import secureJson from 'secure-json-parse';
import { ValidationError } from './errors';

/**
 * Keys refused anywhere in an untrusted JSON document. `JSON.parse` makes them ordinary own
 * properties, harmless in themselves, but one `Object.assign`, spread or deep merge downstream
 * turns `__proto__` into prototype pollution, and `constructor.prototype` into the same by another
 * road. No body of the contract uses these names, so refusing them costs nothing.
 */
export const RESERVED_JSON_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/** Deepest nesting accepted: the contract's bodies are 3 levels deep; payloads get room to spare. @default 32 */
export const MAX_JSON_DEPTH = 32;

export interface UntrustedJsonOptions {
  /** @default MAX_JSON_DEPTH */
  maxDepth?: number;
}

/**
 * Parses a request body (or any JSON from outside) or throws a ValidationError saying what is
 * wrong and where: not JSON; nested deeper than `maxDepth`; a reserved key (`__proto__`,
 * `constructor`, `prototype`) at any depth; a number JSON can spell but not represent (`1e999`
 * parses to Infinity).
 *
 * secure-json-parse does the parsing and refuses `__proto__` and `constructor.prototype`,
 * whatever their spelling in the text (`\u005f_proto__` included). The walk after it, over the
 * parsed value (so escapes are already decoded), adds the depth and number limits and the bare
 * `constructor`/`prototype` keys, and names the path of the first offence. It is iterative: a
 * body of 100,000 nested brackets costs one pass, not a stack overflow.
 */
export function parseUntrustedJson(text: string, options: UntrustedJsonOptions = {}): unknown {
  let value: unknown;
  try {
    // A leading BOM is legal in a UTF-8 file and fatal to JSON.parse.
    value = secureJson.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, null, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    if (!isForbiddenPrototype(error)) throw new ValidationError('request body is not valid JSON');
    // secure-json-parse says that, not where: parse plainly (safe: nothing is merged) and find it.
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  }
  checkStructure(value, options.maxDepth ?? MAX_JSON_DEPTH);
  return value;
}

function isForbiddenPrototype(error: unknown): boolean {
  return error instanceof SyntaxError && /forbidden prototype property/.test(error.message);
}

interface Frame {
  value: unknown;
  depth: number;
  parent: Frame | null;
  key: string | number | null;
}

function checkStructure(root: unknown, maxDepth: number): void {
  const stack: Frame[] = [{ value: root, depth: 0, parent: null, key: null }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const { value, depth } = frame;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new ValidationError(`${pathOf(frame)}: number out of range (not finite)`);
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= maxDepth) throw new ValidationError(`${pathOf(frame)}: nested deeper than ${maxDepth} levels`);
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i -= 1) stack.push({ value: value[i], depth: depth + 1, parent: frame, key: i });
      continue;
    }
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i -= 1) {
      const key = keys[i]!;
      const child: Frame = { value: (value as Record<string, unknown>)[key], depth: depth + 1, parent: frame, key };
      if (RESERVED_JSON_KEYS.includes(key)) throw new ValidationError(`${pathOf(child)}: reserved key '${key}' is not allowed`);
      stack.push(child);
    }
  }
}

/** `events[3].payload.__proto__`; `(body)` for the document itself. */
function pathOf(frame: Frame): string {
  const parts: string[] = [];
  for (let f: Frame | null = frame; f && f.key !== null; f = f.parent) {
    parts.push(typeof f.key === 'number' ? `[${f.key}]` : /^[A-Za-z_$][\w$]*$/.test(f.key) ? `.${f.key}` : `[${JSON.stringify(f.key.length > 50 ? `${f.key.slice(0, 50)}…` : f.key)}]`);
  }
  const path = parts.reverse().join('').replace(/^\./, '');
  return path === '' ? '(body)' : path;
}
