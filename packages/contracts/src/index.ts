export * from './agents';
export * from './dispatch';
export * from './events';
export * from './keys';
export * from './messages';
export * from './sections';
export * from './snapshot';
