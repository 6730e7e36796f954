import type { Redis } from '@agentos/runtime';
import { Queue } from 'bullmq';

/**
 * BullMQ `Queue` objects over one shared connection, made when first needed: the commands and the
 * job counts go through BullMQ's own scripts rather than spelling its keys again.
 */
export class BullQueues {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {}

  get(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      // skipMetasUpdate: a Queue otherwise writes its own options into the queue's meta on
      // creation (streams.events.maxLen back to 10,000, its BullMQ version): the bridge must not
      // reconfigure the platform it watches.
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix, skipMetasUpdate: true });
      // Connection errors are the shared connection's, already handled; a Queue without a
      // listener would throw them.
      queue.on('error', () => {});
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Closes the queues (not the shared connection). */
  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close().catch(() => {})));
    this.queues.clear();
  }
}
