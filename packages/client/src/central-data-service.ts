import type { Snapshot, SocketEventName, SocketMessage } from '@agentos/contracts';
import { io, type Socket } from 'socket.io-client';
import { backoffDelay } from './backoff';
import { RealtimeError, ServiceClosedError, type SnapshotReadError } from './errors';
import { Listeners } from './listeners';
import { applyPatchShared } from './patch';
import { type HttpSnapshotSource, readSnapshotOverHttp, type SnapshotReadOutcome } from './snapshot-http';
import { readEventMessage, readSnapshotMessage, readUpdateMessage, SOCKET_EVENT_NAMES, type SocketEventData } from './socket-messages';

/**
 * What the UI can say about the data it shows (docs/client.md):
 *
 * - `live`: the socket is connected and in sync — `initial_data` came on this connection and
 *   every `ssot:update` since was applied.
 * - `reconnecting`: the socket is not in sync (connecting, waiting for `initial_data`,
 *   resyncing, or waiting to try again) and no HTTP read since it last was has failed: the copy
 *   shown is current as of the last read (every `pollIntervalMs`).
 * - `stale`: the socket is not in sync and the last HTTP read failed or got only the last good
 *   copy (`X-SSOT-Source: stale`). The last copy seen is still shown; `errors` says why.
 * - `idle`: before `connect()` and after `close()`.
 */
export type ConnectionState = 'idle' | 'live' | 'reconnecting' | 'stale';

/** Where the local copy came from: the socket, or an HTTP read answered from the api's cache, a rebuild, or the last good copy. */
export type SnapshotSource = 'socket' | HttpSnapshotSource;

/** Why the client asked the gateway for the whole snapshot again. */
export type ResyncReason = 'version_gap' | 'patch_failed' | 'bad_message';

/** Everything the UI needs to draw, as one immutable object; a new one after every change. */
export interface SsotView {
  /** The local copy as the server sent it (not re-validated). Null until the first snapshot is seen, and never null again. */
  readonly snapshot: Snapshot | null;
  /** `snapshot.meta.version`; 0 before the first. */
  readonly version: number;
  readonly state: ConnectionState;
  /**
   * True when what is shown may be out of date: the state is `stale`, or the server itself
   * marked the copy stale (`meta.stale`: its last good copy, or some section could not be built).
   */
  readonly stale: boolean;
  readonly source: SnapshotSource | null;
  /** Sections the server could not build (`meta.errors`, section → message); they show their previous value. */
  readonly sectionErrors: Readonly<Record<string, string>>;
  /** Why the socket or the HTTP read is failing, while it is. */
  readonly errors: { readonly websocket?: RealtimeError; readonly http?: SnapshotReadError };
  /** The gateway URL the socket is connected to; null while it is not. */
  readonly gateway: string | null;
  /** When the server last sent or confirmed this copy (ms since epoch); null before. */
  readonly updatedAt: number | null;
}

/** The answer to `subscribe(room)`: the gateway's ack, or `timeout` / `not connected` / `closed`. */
export interface SubscribeAck {
  ok: boolean;
  error?: string;
}

/** Counters since the service was made, for logs and tests. */
export interface CentralDataStats {
  /** Connections opened (the first included). */
  connections: number;
  /** `initial_data` messages applied. */
  initialData: number;
  /** `ssot:update` patches applied. */
  updatesApplied: number;
  /** `resync` requests sent. */
  resyncs: number;
  /** HTTP reads made, and how many answered 304. */
  httpReads: number;
  notModified: number;
  /** Inbound messages set aside because they were not what the contract says. */
  badMessages: number;
}

/** Listener arguments by event name: `service.on(name, listener)`. */
export type CentralDataEvents = {
  /** The view changed: snapshot, state, errors or gateway. */
  change: [view: SsotView];
  state: [state: ConnectionState, previous: ConnectionState];
  /** The client asked for the whole snapshot again: its copy did not fit an update. */
  resync: [reason: ResyncReason, detail: { local: number; version?: number; base_version?: number }];
  /** Something the client handled but a developer may want to see: a bad inbound message, a room refused on rejoin, a listener that threw. */
  error: [error: Error];
} & { [S in SocketEventName]: [data: SocketEventData<S>, message: SocketMessage<SocketEventData<S>>] };

export interface CentralDataServiceOptions {
  /**
   * Where the api answers, e.g. `https://ssot.example.com`; a path prefix is kept. In a browser
   * it may be relative (`''`: this page's origin).
   */
  apiUrl: string;
  /**
   * The realtime gateways, in the order tried. The client starts with the first and moves to
   * the next after a failed attempt or a lost connection (not after `io server disconnect`,
   * which means the gateway is up). A path (`https://host/realtime`) is put before `socketPath`.
   * @default [apiUrl]
   */
  gatewayUrls?: string | readonly string[];
  /** The socket.io path on a gateway. @default '/socket.io' */
  socketPath?: string;
  /**
   * An admin JWT (claims `sub`, `role: admin`), or a function returning a fresh one. A function is
   * called before every connection attempt and every HTTP read: cache inside it as you see fit.
   */
  token: string | (() => string | Promise<string>);
  /** Transports in order of preference; the next is tried when one fails. @default ['websocket', 'polling'] */
  transports?: readonly ('websocket' | 'polling')[];
  /** Wait before the first reconnection attempt after a loss; it doubles per failed attempt, with jitter (d → d/2 … d). @default 500 */
  reconnectMinDelayMs?: number;
  /** The longest wait between two connection attempts. @default 15000 */
  reconnectMaxDelayMs?: number;
  /** Longest wait for one connection attempt to be accepted. @default 5000 */
  connectTimeoutMs?: number;
  /** Longest wait after connecting for `initial_data`, before the HTTP fallback starts reading. @default 3000 */
  syncTimeoutMs?: number;
  /** While the socket is not live, how often the snapshot is read over HTTP (or `Retry-After`, when longer, up to 60 s). @default 5000 */
  pollIntervalMs?: number;
  /** Longest wait for one HTTP answer (a rebuild on the api takes up to 2 s). @default 5000 */
  requestTimeoutMs?: number;
  /** Longest wait for the ack of `subscribe` or `resync`. @default 5000 */
  ackTimeoutMs?: number;
  /** The fetch to use (tests, instrumented or proxied fetches). @default globalThis.fetch */
  fetch?: typeof fetch;
}

const MAX_RETRY_AFTER_MS = 60_000;
const NO_ERRORS: Readonly<Record<string, string>> = Object.freeze({});

type Timer = ReturnType<typeof setTimeout>;

/**
 * The admin dashboard's copy of the SSOT snapshot, kept current for browsers and Node 20.
 *
 * `connect()` opens a socket.io connection to a gateway: `initial_data` replaces the local copy,
 * each `ssot:update` is applied as a JSON Patch when its `base_version` is the local version,
 * and any other update makes the client ask for the whole snapshot again (`resync`). When the
 * socket is down or out of sync, the snapshot is read over HTTP (`GET /api/admin/ssot`, ETag-aware)
 * every `pollIntervalMs` — the seed's fallback order: WebSocket → HTTP cache read → rebuild (the
 * api's, on a miss) → the last copy with error flags. Once a snapshot has been seen it is never
 * dropped: failures only mark it stale.
 *
 * Lost connections are retried with exponential backoff and jitter, rotating through
 * `gatewayUrls`, each attempt with a fresh token. `close()` stops everything.
 */
export class CentralDataService {
  private readonly snapshotUrl: string;
  private readonly gateways: readonly { url: string; origin: string; path: string }[];
  private readonly tokenOption: CentralDataServiceOptions['token'];
  private readonly transports: readonly ('websocket' | 'polling')[];
  private readonly reconnectMinDelayMs: number;
  private readonly reconnectMaxDelayMs: number;
  private readonly connectTimeoutMs: number;
  private readonly syncTimeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly requestTimeoutMs: number;
  private readonly ackTimeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly listeners = new Listeners<CentralDataEvents>((error, event) => {
    // An error listener that throws has nowhere left to report to.
    if (event !== 'error') this.listeners.emit('error', error instanceof Error ? error : new Error(String(error)));
  });
  private readonly counters: CentralDataStats = { connections: 0, initialData: 0, updatesApplied: 0, resyncs: 0, httpReads: 0, notModified: 0, badMessages: 0 };

  // The local copy.
  private snapshot: Snapshot | null = null;
  private source: SnapshotSource | null = null;
  /** The ETag of the local copy when it came over HTTP; null once the socket changed it. */
  private etag: string | null = null;
  private updatedAt: number | null = null;
  private errors: { websocket?: RealtimeError; http?: SnapshotReadError } = {};
  private current: SsotView;

  // The connection.
  private active = false;
  private closed = false;
  private socket: Socket | null = null;
  /** The gateway URL (as given) of `socket`. */
  private socketGateway = '';
  private gatewayIndex = 0;
  /** Failed attempts in a row since the socket was last in sync: the backoff exponent. */
  private failures = 0;
  /** Bumped by every new attempt and by close(): an attempt still awaiting its token then gives up. */
  private attempt = 0;
  private synced = false;
  private resyncing = false;
  /** No HTTP read has failed since the socket was last live (see ConnectionState). */
  private httpHealthy = true;
  private reconnectTimer: Timer | null = null;
  private syncTimer: Timer | null = null;
  private pollTimer: Timer | null = null;
  private polling = false;
  private reading: Promise<void> | null = null;
  private readonly controllers = new Set<AbortController>();
  /** Rooms joined with `subscribe`, joined again on every connection. */
  private readonly rooms = new Set<string>();
  private readonly connectionWaiters = new Set<(socket: Socket | null) => void>();
  private started: Promise<SsotView> | null = null;
  private settleStarted: (() => void) | null = null;

  constructor(options: CentralDataServiceOptions) {
    const apiBase = options.apiUrl.replace(/\/+$/, '');
    this.snapshotUrl = `${apiBase}/api/admin/ssot`;
    const urls = options.gatewayUrls === undefined ? [apiBase] : typeof options.gatewayUrls === 'string' ? [options.gatewayUrls] : [...options.gatewayUrls];
    if (urls.length === 0) throw new RangeError('gatewayUrls must name at least one gateway');
    const socketPath = options.socketPath ?? '/socket.io';
    // socket.io reads a URL's path as a namespace: keep the origin, and put the path before socketPath.
    // In a browser a relative URL ('' or '/') means this page's origin.
    const origin = (globalThis as { location?: { origin?: string } }).location?.origin;
    this.gateways = urls.map((url) => {
      const parsed = new URL(url, origin);
      return { url, origin: parsed.origin, path: `${parsed.pathname.replace(/\/+$/, '')}${socketPath}` };
    });
    this.tokenOption = options.token;
    this.transports = options.transports ?? ['websocket', 'polling'];
    this.reconnectMinDelayMs = options.reconnectMinDelayMs ?? 500;
    this.reconnectMaxDelayMs = options.reconnectMaxDelayMs ?? 15_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.syncTimeoutMs = options.syncTimeoutMs ?? 3000;
    this.pollIntervalMs = options.pollIntervalMs ?? 5000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    const durations = {
      reconnectMinDelayMs: this.reconnectMinDelayMs,
      reconnectMaxDelayMs: this.reconnectMaxDelayMs,
      connectTimeoutMs: this.connectTimeoutMs,
      syncTimeoutMs: this.syncTimeoutMs,
      pollIntervalMs: this.pollIntervalMs,
      requestTimeoutMs: this.requestTimeoutMs,
      ackTimeoutMs: this.ackTimeoutMs,
    };
    for (const [name, value] of Object.entries(durations)) {
      if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a number > 0`);
    }
    if (this.reconnectMaxDelayMs < this.reconnectMinDelayMs) throw new RangeError('reconnectMaxDelayMs must be ≥ reconnectMinDelayMs');
    if (!options.fetch && typeof globalThis.fetch !== 'function') throw new TypeError('no global fetch here: pass options.fetch');
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.current = this.makeView();
  }

  /** The current view: snapshot, state, errors. */
  get view(): SsotView {
    return this.current;
  }

  get state(): ConnectionState {
    return this.current.state;
  }

  /** The local copy; null until the first snapshot is seen. */
  get data(): Snapshot | null {
    return this.snapshot;
  }

  get stats(): Readonly<CentralDataStats> {
    return { ...this.counters };
  }

  /**
   * Adds a listener: `change` and `state` for the UI, `resync` and `error` for diagnostics, and
   * the dispatch table's socket events (`job:new`, `job:progress`, `job:done`, `job:error`,
   * `worker:down`, `queue:warning`, `system:status`) with their typed `data`. Listeners stay
   * across reconnections. Returns the function that removes it.
   */
  on<K extends keyof CentralDataEvents>(event: K, listener: (...args: CentralDataEvents[K]) => void): () => void {
    return this.listeners.on(event, listener);
  }

  /**
   * Starts the live copy. Resolves with the view once the first attempt has an outcome: the
   * socket is live, or it failed and the HTTP fallback answered (with a snapshot, or with the
   * error in `view.errors`). Never rejects, except after `close()`. Calling it again returns the
   * same promise.
   */
  connect(): Promise<SsotView> {
    if (this.closed) return Promise.reject(new ServiceClosedError());
    if (this.started) return this.started;
    this.started = new Promise((resolve) => {
      this.settleStarted = () => {
        this.settleStarted = null;
        resolve(this.current);
      };
    });
    this.active = true;
    this.refreshView();
    void this.openSocket();
    return this.started;
  }

  /**
   * Reads the snapshot over HTTP now (`If-None-Match` with the ETag of the copy held: a 304 keeps
   * it) and resolves with the local copy after it. When the read fails, resolves with the copy
   * held — check `view.stale` and `view.errors` — and rejects only when there is none. Reads
   * already under way are shared.
   */
  async fetchAllData(): Promise<Snapshot> {
    if (this.closed) throw new ServiceClosedError();
    await this.read();
    if (this.snapshot) return this.snapshot;
    if (this.closed) throw new ServiceClosedError();
    throw this.errors.http ?? new Error('no snapshot');
  }

  /**
   * Joins `room` (CONTRACT §6: the token decides which rooms are allowed) and resolves with the
   * gateway's ack. Waits up to `connectTimeoutMs` for a connection when there is none yet. A room
   * joined is joined again after every reconnection.
   */
  async subscribe(room: string): Promise<SubscribeAck> {
    if (this.closed) return { ok: false, error: 'closed' };
    const socket = this.socket?.connected ? this.socket : this.active ? await this.nextConnection(this.connectTimeoutMs) : null;
    if (!socket) return { ok: false, error: this.closed ? 'closed' : 'not connected' };
    let ack: SubscribeAck;
    try {
      ack = readAck(await socket.timeout(this.ackTimeoutMs).emitWithAck('subscribe', { room }));
    } catch {
      return { ok: false, error: 'timeout' };
    }
    if (ack.ok && !this.closed) this.rooms.add(room);
    return ack;
  }

  /** Stops for good: the socket, every timer and every request under way. The last view stays readable. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.active = false;
    this.attempt += 1;
    for (const timer of [this.reconnectTimer, this.syncTimer, this.pollTimer]) if (timer) clearTimeout(timer);
    this.reconnectTimer = this.syncTimer = this.pollTimer = null;
    for (const controller of this.controllers) controller.abort();
    for (const waiter of [...this.connectionWaiters]) waiter(null);
    this.dropSocket();
    this.refreshView();
    this.settleStarted?.();
    this.listeners.clear();
  }

  // --- the socket -------------------------------------------------------------------------

  private async openSocket(): Promise<void> {
    const attempt = ++this.attempt;
    const gateway = this.gateways[this.gatewayIndex % this.gateways.length]!;
    let token: string;
    try {
      token = await this.token();
    } catch (cause) {
      if (attempt !== this.attempt) return;
      this.attemptFailed(new RealtimeError(`the token function failed: ${(cause as Error)?.message ?? String(cause)}`, 'token_error', gateway.url, undefined, { cause }), false);
      return;
    }
    if (attempt !== this.attempt || !this.active) return;

    const socket = io(gateway.origin, {
      path: gateway.path,
      transports: [...this.transports],
      // When WebSocket cannot get through (a proxy that blocks it), try long-polling.
      tryAllTransports: true,
      // Our own loop reconnects: it rotates gateways and takes a fresh token each time.
      reconnection: false,
      forceNew: true,
      timeout: this.connectTimeoutMs,
      auth: { token },
    });
    this.socket = socket;
    this.socketGateway = gateway.url;
    this.counters.connections += 1;

    socket.on('connect', () => {
      if (socket !== this.socket) return;
      this.errors = { ...this.errors, websocket: undefined };
      this.syncTimer = setTimeout(() => {
        this.syncTimer = null;
        if (socket === this.socket && !this.synced) this.startFallback();
      }, this.syncTimeoutMs);
      for (const room of this.rooms) this.rejoin(socket, room);
      for (const waiter of [...this.connectionWaiters]) waiter(socket);
      this.refreshView();
    });
    socket.on('connect_error', (error: Error) => {
      if (socket !== this.socket) return;
      this.dropSocket();
      const unauthorized = error.message === 'unauthorized';
      const realtimeError = new RealtimeError(
        unauthorized ? `${gateway.url} refused the token` : `could not connect to ${gateway.url}: ${error.message}`,
        unauthorized ? 'unauthorized' : 'connect_failed',
        gateway.url,
        undefined,
        { cause: error },
      );
      // A refused token is refused by every gateway alike: no reason to move on.
      this.attemptFailed(realtimeError, !unauthorized);
    });
    socket.on('disconnect', (reason: string) => {
      if (socket !== this.socket) return;
      this.dropSocket();
      // `io server disconnect`: the gateway ended the connection on purpose — its token expired —
      // and socket.io does not reconnect by itself after that. The gateway is up: same URL, new token.
      this.attemptFailed(new RealtimeError(`${gateway.url} disconnected: ${reason}`, 'disconnected', gateway.url, reason), reason !== 'io server disconnect');
    });
    socket.on('initial_data', (raw: unknown) => {
      if (socket === this.socket) this.onInitialData(raw);
    });
    socket.on('ssot:update', (raw: unknown) => {
      if (socket === this.socket) this.onUpdate(raw);
    });
    for (const name of SOCKET_EVENT_NAMES) {
      socket.on(name, (raw: unknown) => {
        if (socket !== this.socket) return;
        const read = readEventMessage(raw, name);
        if ('problem' in read) return this.badMessage(read.problem);
        // One call for every event name: TypeScript cannot pair `name` with its argument types here.
        const emit = this.listeners.emit as (event: SocketEventName, ...args: unknown[]) => void;
        emit.call(this.listeners, name, read.message.data, read.message);
      });
    }
  }

  /** Forgets the socket (and closes it): no event of it is heard after this. */
  private dropSocket(): void {
    const socket = this.socket;
    if (!socket) return;
    this.socket = null;
    if (this.synced || this.resyncing) this.httpHealthy = true;
    this.synced = false;
    this.resyncing = false;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    socket.off();
    socket.disconnect();
  }

  /** A connection attempt failed or a connection ended: read over HTTP meanwhile, and try again after the backoff. */
  private attemptFailed(error: RealtimeError, rotate: boolean): void {
    if (!this.active) return;
    this.errors = { ...this.errors, websocket: error };
    if (rotate) this.gatewayIndex = (this.gatewayIndex + 1) % this.gateways.length;
    const delay = backoffDelay(this.failures, this.reconnectMinDelayMs, this.reconnectMaxDelayMs);
    this.failures += 1;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.openSocket();
    }, delay);
    this.startFallback();
    this.refreshView();
  }

  private onInitialData(raw: unknown): void {
    const read = readSnapshotMessage(raw);
    if ('problem' in read) return this.badMessage(read.problem);
    this.counters.initialData += 1;
    this.adopt(read.message.data, 'socket', null);
    this.synced = true;
    this.resyncing = false;
    this.failures = 0;
    this.httpHealthy = true;
    this.errors = { ...this.errors, websocket: undefined };
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    this.stopFallback();
    this.refreshView();
    this.settleStarted?.();
  }

  private onUpdate(raw: unknown): void {
    const read = readUpdateMessage(raw);
    if ('problem' in read) {
      this.badMessage(read.problem);
      return this.requestResync('bad_message', { local: this.version() });
    }
    const { version, base_version: base, patch } = read.message.data;
    const local = this.version();
    // An HTTP read already brought this version.
    if (version === local) return;
    if (!this.snapshot || base !== local) return this.requestResync('version_gap', { local, version, base_version: base });
    let next: Snapshot;
    try {
      // Validated against our copy and applied copy-on-write: a patch that does not fit throws and
      // changes nothing, and the parts it does not touch keep their identity (readers compare by reference).
      next = applyPatchShared(this.snapshot, patch);
    } catch {
      return this.requestResync('patch_failed', { local, version, base_version: base });
    }
    if (next?.meta?.version !== version) return this.requestResync('patch_failed', { local, version, base_version: base });
    this.counters.updatesApplied += 1;
    this.adopt(next, 'socket', null);
    this.refreshView();
  }

  /**
   * Asks the gateway for the whole snapshot again (it answers with `initial_data`, then the ack).
   * The copy held stays on show meanwhile; without an answer, HTTP reads take over.
   */
  private requestResync(reason: ResyncReason, detail: CentralDataEvents['resync'][1]): void {
    const socket = this.socket;
    if (!socket?.connected || this.resyncing) return;
    this.resyncing = true;
    if (this.synced) this.httpHealthy = true;
    this.synced = false;
    this.counters.resyncs += 1;
    this.listeners.emit('resync', reason, detail);
    this.refreshView();
    const failed = (message: string) => {
      if (socket !== this.socket || !this.resyncing) return;
      this.errors = { ...this.errors, websocket: new RealtimeError(message, 'resync_failed', this.socketGateway) };
      this.startFallback();
      this.refreshView();
    };
    socket
      .timeout(this.ackTimeoutMs)
      .emitWithAck('resync')
      .then(
        (answer: unknown) => {
          const ack = readAck(answer);
          // initial_data is written before the ack: in sync already, unless it was held back by backpressure.
          if (!ack.ok) failed(`resync refused: ${ack.error ?? 'no reason given'}`);
          else if (this.resyncing && socket === this.socket) this.startFallback();
        },
        () => failed('resync: no answer in time'),
      );
  }

  private rejoin(socket: Socket, room: string): void {
    socket
      .timeout(this.ackTimeoutMs)
      .emitWithAck('subscribe', { room })
      .then(
        (answer: unknown) => {
          const ack = readAck(answer);
          if (ack.ok || socket !== this.socket) return;
          this.rooms.delete(room);
          this.listeners.emit('error', new Error(`room ${room} was refused on reconnection: ${ack.error ?? 'no reason given'}`));
        },
        () => {},
      );
  }

  private nextConnection(timeoutMs: number): Promise<Socket | null> {
    return new Promise((resolve) => {
      const done = (socket: Socket | null) => {
        clearTimeout(timer);
        this.connectionWaiters.delete(done);
        resolve(socket);
      };
      const timer = setTimeout(() => done(null), timeoutMs);
      this.connectionWaiters.add(done);
    });
  }

  private badMessage(problem: string): void {
    this.counters.badMessages += 1;
    this.listeners.emit('error', new Error(`set aside a message from the gateway: ${problem}`));
  }

  // --- HTTP -------------------------------------------------------------------------------

  /** Reads over HTTP while the socket is not live: now, then every `pollIntervalMs` (or `Retry-After`). */
  private startFallback(): void {
    if (!this.active || this.synced || this.polling || this.pollTimer) return;
    this.polling = true;
    void this.read().finally(() => {
      this.polling = false;
      this.settleStarted?.();
      if (!this.active || this.synced || this.pollTimer) return;
      const retryAfter = Math.min(this.errors.http?.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS);
      this.pollTimer = setTimeout(() => {
        this.pollTimer = null;
        this.startFallback();
      }, Math.max(this.pollIntervalMs, retryAfter));
    });
  }

  private stopFallback(): void {
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  private read(): Promise<void> {
    this.reading ??= this.readOnce().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    const controller = new AbortController();
    this.controllers.add(controller);
    const timer = setTimeout(() => controller.abort(), this.requestTimeoutMs);
    let outcome: SnapshotReadOutcome;
    try {
      this.counters.httpReads += 1;
      outcome = await readSnapshotOverHttp({
        url: this.snapshotUrl,
        token: () => this.token(),
        etag: this.snapshot ? this.etag : null,
        fetch: this.fetchFn,
        signal: controller.signal,
      });
    } finally {
      clearTimeout(timer);
      this.controllers.delete(controller);
    }
    if (this.closed) return;
    switch (outcome.kind) {
      case 'snapshot':
        // While live the socket is authoritative: an HTTP answer replaces its copy only when newer.
        if (!(this.synced && this.snapshot && outcome.snapshot.meta.version <= this.version())) {
          this.adopt(outcome.snapshot, outcome.source, outcome.etag);
        }
        this.errors = { ...this.errors, http: undefined };
        this.httpHealthy = outcome.source !== 'stale';
        break;
      case 'not_modified':
        this.counters.notModified += 1;
        this.updatedAt = Date.now();
        this.errors = { ...this.errors, http: undefined };
        this.httpHealthy = outcome.source !== 'stale';
        break;
      case 'error':
        this.errors = { ...this.errors, http: outcome.error };
        this.httpHealthy = false;
        break;
    }
    this.refreshView();
  }

  // --- the local copy and the view ---------------------------------------------------------

  private adopt(snapshot: Snapshot, source: SnapshotSource, etag: string | null): void {
    this.snapshot = snapshot;
    this.source = source;
    this.etag = etag;
    this.updatedAt = Date.now();
  }

  private version(): number {
    return this.snapshot?.meta.version ?? 0;
  }

  private computeState(): ConnectionState {
    if (!this.active) return 'idle';
    if (this.synced) return 'live';
    return this.httpHealthy ? 'reconnecting' : 'stale';
  }

  private makeView(): SsotView {
    const state = this.computeState();
    const snapshot = this.snapshot;
    return Object.freeze({
      snapshot,
      version: this.version(),
      state,
      stale: snapshot?.meta.stale === true || (!this.synced && !this.httpHealthy),
      source: this.source,
      sectionErrors: snapshot?.meta.errors ?? NO_ERRORS,
      errors: Object.freeze({ ...(this.errors.websocket && { websocket: this.errors.websocket }), ...(this.errors.http && { http: this.errors.http }) }),
      gateway: this.socket?.connected ? this.socketGateway : null,
      updatedAt: this.updatedAt,
    });
  }

  /** Recomputes the view and tells the listeners. */
  private refreshView(): void {
    const previous = this.current.state;
    this.current = this.makeView();
    if (this.current.state !== previous) this.listeners.emit('state', this.current.state, previous);
    this.listeners.emit('change', this.current);
  }

  private async token(): Promise<string> {
    const token = typeof this.tokenOption === 'string' ? this.tokenOption : await this.tokenOption();
    if (typeof token !== 'string' || token === '') throw new TypeError('the token is empty');
    return token;
  }
}

function readAck(answer: unknown): SubscribeAck {
  if (typeof answer !== 'object' || answer === null) return { ok: false, error: 'bad ack' };
  const { ok, error } = answer as { ok?: unknown; error?: unknown };
  return typeof error === 'string' ? { ok: ok === true, error } : { ok: ok === true };
}
