export * from './errors';
export * from './event-publisher';
