export * from './backoff';
export * from './central-data-service';
export * from './errors';
export * from './event-publisher';
export * from './snapshot-http';
export * from './socket-messages';
