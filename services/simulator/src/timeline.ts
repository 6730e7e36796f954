/**
 * What the scenario has planned, earliest first: a binary min-heap on (time, order planned), so
 * two actions due at the same millisecond always run in the order they were planned — part of
 * what makes a seed replay exactly.
 */
export class Timeline {
  private readonly heap: { at: number; seq: number; run: () => void }[] = [];
  private planned = 0;

  get size(): number {
    return this.heap.length;
  }

  /** When the next action is due; Infinity when nothing is planned. */
  nextAt(): number {
    return this.heap[0]?.at ?? Infinity;
  }

  plan(at: number, run: () => void): void {
    const item = { at, seq: this.planned++, run };
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = item;
  }

  /** Removes and returns the earliest action. */
  take(): { at: number; run: () => void } | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (!top || !last || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

function before(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
