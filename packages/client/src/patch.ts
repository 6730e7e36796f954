import { applyOperation, type Operation } from 'fast-json-patch';

/**
 * `document` with `patch` (RFC 6902) applied, copy-on-write: the objects and arrays on the path of
 * an operation are copied (shallowly, once per patch) and everything else is shared with
 * `document`, which is left as it was. Validated as fast-json-patch validates (a patch that does
 * not fit throws its `JsonPatchError`).
 *
 * Why not `applyPatch(document, patch, true, false)`: that deep-clones the whole snapshot for
 * every patch — at 100 patches a second, most of the client's work and garbage — and gives every
 * version a new tree even where nothing changed, which each reader then has to compare again.
 * Here an unchanged section keeps its identity from one version to the next.
 */
export function applyPatchShared<T>(document: T, patch: readonly Operation[]): T {
  // The containers this call made: changing them in place changes no earlier version.
  const own = new WeakSet<object>();
  let root: unknown = document;
  patch.forEach((operation, index) => {
    if (operation.op !== 'test' && operation.op !== '_get') {
      root = ownPath(root, operation.path, own);
      if (operation.op === 'move') root = ownPath(root, operation.from, own);
    }
    root = applyOperation(root, operation, true, true, true, index).newDocument;
  });
  return root as T;
}

/**
 * `root`, with every container from it down to the parent of `pointer`'s target made this
 * patch's own copy. Stops where the path does not resolve: `applyOperation` then reports it.
 */
function ownPath(root: unknown, pointer: unknown, own: WeakSet<object>): unknown {
  if (typeof pointer !== 'string' || pointer === '' || !isContainer(root)) return root;
  const top = ownCopy(root, own);
  let parent = top as Record<string, unknown>;
  const tokens = pointer.split('/');
  // tokens[0] is the empty string before the first '/'; the last token names the target itself.
  for (let i = 1; i < tokens.length - 1; i += 1) {
    const token = tokens[i]!;
    const key = token.includes('~') ? token.replace(/~1/g, '/').replace(/~0/g, '~') : token;
    if (!Object.hasOwn(parent, key)) break;
    const child = parent[key];
    if (!isContainer(child)) break;
    const copy = ownCopy(child, own);
    parent[key] = copy;
    parent = copy as Record<string, unknown>;
  }
  return top;
}

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

function ownCopy(value: object, own: WeakSet<object>): object {
  if (own.has(value)) return value;
  const copy = Array.isArray(value) ? value.slice() : { ...value };
  own.add(copy);
  return copy;
}
