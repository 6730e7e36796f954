export * from './central-data-service';
export * from './command-consumer';
export * from './errors';
export * from './event-publisher';
export * from './socket-messages';
